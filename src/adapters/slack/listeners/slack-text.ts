// Slack's text encoding at the edge: `&`, `<` and `>` arrive as entities; the core wants what the user typed.

/**
 * Undoes Slack's escaping of `&amp;`, `&lt;` and `&gt;` (the only three it applies). Mentions and
 * links arrive as real `<@U…>` / `<https://…|label>` and stay as they are: the grammar reads mentions.
 */
export function decodeSlackText(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_whole, name: string) => (name === 'amp' ? '&' : name === 'lt' ? '<' : '>'));
}
