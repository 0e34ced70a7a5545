// The portal's html template escapes every value unless it is markup made by the template itself.
import { describe, expect, it } from 'vitest';
import { html, escapeHtml } from '../../src/adapters/portal/html.js';

describe('html template', () => {
  it('escapes strings, numbers and arrays of strings put into it', () => {
    const title = '<script>alert("x")</script> & \'q\' `t`';
    expect(html`<h1>${title}</h1>`.text).toBe('<h1>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; &#96;t&#96;</h1>');
    expect(html`<p>${['<b>', 1]}</p>`.text).toBe('<p>&lt;b&gt;1</p>');
  });

  it('keeps markup made by html as it is, and writes nothing for null, undefined and false', () => {
    const inner = html`<em>${'<i>'}</em>`;
    expect(html`<p>${inner}${null}${undefined}${false}</p>`.text).toBe('<p><em>&lt;i&gt;</em></p>');
  });

  it('escapes attribute breakers so a value cannot leave its quotes', () => {
    expect(html`<input value="${'" onfocus="x'}">`.text).toBe('<input value="&quot; onfocus=&quot;x">');
    expect(escapeHtml("'")).toBe('&#39;');
  });
});
