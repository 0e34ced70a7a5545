// The portal's only two static files, served by the app itself (no third-party assets): its stylesheet and its live-timeline script.

export const PORTAL_CSS = `:root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--line:#d0d7de;--accent:#0b57d0;--bad:#b42318;--ok:#137333;--warn:#8a5a00;--focus:#ffbf47}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--fg);color:#fff;padding:.5rem 1rem;z-index:10}
.skip:focus{left:0}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;padding:.5rem 1rem;border-bottom:1px solid var(--line)}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}
.top nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}
.signout{margin-left:auto;display:flex;gap:.5rem;align-items:center}
.who{color:var(--muted);font-family:ui-monospace,monospace}
main{padding:1rem;max-width:72rem;margin:0 auto}
main:focus{outline:none}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
button,.button{font:inherit;padding:.4rem .9rem;border:1px solid var(--line);border-radius:6px;background:#f6f8fa;color:var(--fg);cursor:pointer;text-decoration:none;display:inline-block}
button.primary,.button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
label{display:block;font-size:.85rem;color:var(--muted)}
input,select{font:inherit;padding:.3rem;border:1px solid var(--muted);border-radius:4px;max-width:100%}
.filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin-bottom:1rem}
.filters .grow{flex:1 1 12rem}
.filters .grow input{width:100%}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
.badge{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.85rem;border:1px solid var(--line)}
.sev-1{background:#fde7e9;color:var(--bad)}.sev-2{background:#fff4e5;color:var(--warn)}
.status-resolved{background:#e6f4ea;color:var(--ok)}
.private{background:#f3e8fd}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1rem}
.facts dt{color:var(--muted)}.facts dd{margin:0}
.timeline{list-style:none;padding:0;margin:0}
.timeline li{padding:.4rem 0;border-bottom:1px solid var(--line);display:grid;grid-template-columns:12rem 1fr;gap:.5rem}
.timeline .meta{color:var(--muted);font-size:.85rem;font-family:ui-monospace,monospace}
.timeline li.fresh{background:#fffbe6}
pre.output{background:#0d1117;color:#e6edf3;padding:.75rem;overflow:auto;max-height:40rem;white-space:pre-wrap;word-break:break-all}
.error{color:var(--bad)}.notice{color:var(--ok)}.empty{color:var(--muted)}
.pager{display:flex;gap:1rem;margin:1rem 0}
.actions{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}
.actions form{display:inline}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.downloads{display:flex;gap:1rem;flex-wrap:wrap;list-style:none;padding:0}
@media (max-width:40rem){
 .timeline li{grid-template-columns:1fr}
 .facts{grid-template-columns:1fr}
 .facts dt{font-weight:600}
 th,td{padding:.3rem}
 table.incidents td:nth-child(5),table.incidents th:nth-child(5),table.incidents td:nth-child(6),table.incidents th:nth-child(6){display:none}
}
`;

/**
 * Live timeline over Server-Sent Events: new events arrive as JSON and become list items through
 * textContent (never HTML), at the top when newest-first, at the bottom when oldest-first.
 */
export const PORTAL_JS = `(function () {
  'use strict';
  var list = document.getElementById('timeline');
  if (!list || !window.EventSource) return;
  var src = list.getAttribute('data-live');
  if (!src) return;
  var newestFirst = list.getAttribute('data-order') === 'newest';
  var status = document.getElementById('live-status');
  var source = new EventSource(src);
  source.addEventListener('open', function () { if (status) status.textContent = 'Live: new events appear as they happen.'; });
  source.addEventListener('error', function () { if (status) status.textContent = 'Live updates paused; reconnecting…'; });
  source.addEventListener('timeline', function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    if (document.getElementById('ev-' + ev.seq)) return;
    var li = document.createElement('li');
    li.id = 'ev-' + ev.seq;
    li.className = 'fresh';
    var meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = ev.time + ' #' + ev.seq + ' ' + ev.actor + ' (' + ev.source + ')';
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = ev.text;
    li.appendChild(meta);
    li.appendChild(text);
    if (newestFirst) list.insertBefore(li, list.firstChild); else list.appendChild(li);
    var empty = document.getElementById('timeline-empty');
    if (empty) empty.remove();
  });
})();
`;
