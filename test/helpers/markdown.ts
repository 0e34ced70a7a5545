// Reads a Markdown document as a CommonMark renderer (markdown-it with GitHub's tables, strikethrough and raw HTML) sees it: its blocks, and the text each shows.
import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';

export type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'fence'; text: string }
  | { kind: 'table'; rows: string[][] }
  | { kind: 'list'; items: string[] }
  | { kind: 'rule' }
  | { kind: 'html'; text: string };

/** Raw HTML is on, as on GitHub: a `<!--` the export lets through would hide what follows. */
const md = new MarkdownIt({ html: true, linkify: false, typographer: false });

/**
 * The text an inline run shows. Plain text, and `<br>` as a line break, read as themselves;
 * anything else a renderer would turn into markup shows as `⟦its token type⟧`, so a test that
 * expects exactly the recorded text fails on any emphasis, link, code span or HTML it finds.
 * Our own code spans (the footer's hash) show as `` `…` ``.
 */
function inlineText(children: Token[] | null): string {
  let out = '';
  for (const t of children ?? []) {
    if (t.type === 'text') out += t.content;
    else if (t.type === 'softbreak' || t.type === 'hardbreak') out += '\n';
    else if (t.type === 'html_inline' && /^<br\s*\/?>$/i.test(t.content)) out += '\n';
    else if (t.type === 'code_inline') out += `\`${t.content}\``;
    else out += `⟦${t.type}${t.content ? `:${t.content}` : ''}⟧`;
  }
  return out;
}

/** The document's top-level blocks in order (list items and table cells as their text). */
export function readMarkdown(text: string): Block[] {
  const tokens = md.parse(text, {});
  const blocks: Block[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.level !== 0) continue;
    switch (t.type) {
      case 'heading_open':
        blocks.push({ kind: 'heading', level: Number(t.tag.slice(1)), text: inlineText(tokens[i + 1]!.children) });
        break;
      case 'paragraph_open':
        blocks.push({ kind: 'paragraph', text: inlineText(tokens[i + 1]!.children) });
        break;
      case 'fence':
      case 'code_block':
        blocks.push({ kind: 'fence', text: t.content.replace(/\n$/, '') });
        break;
      case 'hr':
        blocks.push({ kind: 'rule' });
        break;
      case 'html_block':
        blocks.push({ kind: 'html', text: t.content });
        break;
      case 'table_open': {
        const rows: string[][] = [];
        for (i += 1; tokens[i]!.type !== 'table_close'; i++) {
          const row = tokens[i]!;
          if (row.type === 'tr_open') rows.push([]);
          if (row.type === 'inline') rows[rows.length - 1]!.push(inlineText(row.children));
        }
        blocks.push({ kind: 'table', rows });
        break;
      }
      case 'bullet_list_open':
      case 'ordered_list_open': {
        const items: string[] = [];
        const close = t.type.replace('_open', '_close');
        let depth = 0;
        for (i += 1; !(tokens[i]!.type === close && depth === 0); i++) {
          const tok = tokens[i]!;
          if (tok.type === 'list_item_open' && depth === 0) items.push('');
          if (tok.type.endsWith('_list_open')) depth += 1;
          if (tok.type.endsWith('_list_close')) depth -= 1;
          if (tok.type === 'inline') items[items.length - 1] = `${items[items.length - 1] ?? ''}${inlineText(tok.children)}`;
        }
        blocks.push({ kind: 'list', items });
        break;
      }
      default:
        break;
    }
  }
  return blocks;
}

/** The headings of a document, as `## Text`. */
export const headings = (blocks: Block[]): string[] => blocks.flatMap((b) => (b.kind === 'heading' ? [`${'#'.repeat(b.level)} ${b.text}`] : []));

/** The block right after the heading with this exact text. */
export function blockAfter(blocks: Block[], heading: string): Block | undefined {
  const at = blocks.findIndex((b) => b.kind === 'heading' && b.text === heading);
  return at < 0 ? undefined : blocks[at + 1];
}
