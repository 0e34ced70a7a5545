// The one parser for slash-command text shared by every adapter: words, "quoted strings", key=value, --flags.
import { InputError } from '../../errors.js';

export interface ParsedArgs {
  /** Positional words in order (quoted strings arrive as one word, unquoted). */
  words: string[];
  /** `key=value` and `key="quoted value"` pairs. */
  params: Record<string, string>;
  /** `--flag` names without the dashes. */
  flags: string[];
}

const OPEN_QUOTES = new Set(['"', '\u201c', '\u201d']);
const CLOSE_QUOTES = new Set(['"', '\u201c', '\u201d']);
const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const FLAG = /^--[a-z][a-z0-9-]*$/;

/** Reads one quoted string starting at `text[start]`; returns its value and the index after the quote. */
function readQuoted(text: string, start: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length && (text[i + 1] === '\\' || CLOSE_QUOTES.has(text[i + 1]!))) {
      value += text[i + 1]!;
      i += 2;
      continue;
    }
    if (CLOSE_QUOTES.has(ch)) return { value, end: i + 1 };
    value += ch;
    i += 1;
  }
  throw new InputError(`unbalanced quote: the quote at column ${start + 1} is never closed; close it or escape it as \\"`);
}

interface Token {
  text: string;
  quoted: boolean;
  /** Column of the token (1-based), for error messages. */
  col: number;
  /** For `key=value` tokens. */
  key?: string;
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    const col = i + 1;
    if (OPEN_QUOTES.has(ch)) {
      const { value, end } = readQuoted(text, i);
      if (end < text.length && !/\s/.test(text[end]!)) {
        throw new InputError(`put a space after the quoted text that ends at column ${end}`);
      }
      tokens.push({ text: value, quoted: true, col });
      i = end;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j]!) && !OPEN_QUOTES.has(text[j]!)) j += 1;
    const bare = text.slice(i, j);
    const eq = bare.indexOf('=');
    if (eq > 0 && KEY.test(bare.slice(0, eq))) {
      const key = bare.slice(0, eq);
      if (eq === bare.length - 1 && j < text.length && OPEN_QUOTES.has(text[j]!)) {
        const { value, end } = readQuoted(text, j);
        tokens.push({ text: value, quoted: true, col, key });
        i = end;
        continue;
      }
      if (j < text.length && OPEN_QUOTES.has(text[j]!)) {
        throw new InputError(`a quote inside ${key}=… at column ${j + 1}: quote the whole value, as ${key}="…"`);
      }
      tokens.push({ text: bare.slice(eq + 1), quoted: false, col, key });
      i = j;
      continue;
    }
    if (j < text.length && OPEN_QUOTES.has(text[j]!)) {
      throw new InputError(`a quote in the middle of "${bare}…" at column ${j + 1}: quote the whole word, or escape it as \\"`);
    }
    tokens.push({ text: bare, quoted: false, col });
    i = j;
  }
  return tokens;
}

export function parseArgs(text: string): ParsedArgs {
  const parsed: ParsedArgs = { words: [], params: {}, flags: [] };
  for (const token of tokenize(text)) {
    if (token.key !== undefined) {
      if (Object.hasOwn(parsed.params, token.key)) {
        throw new InputError(`${token.key}= is given twice; give it once`);
      }
      parsed.params[token.key] = token.text;
    } else if (!token.quoted && token.text.startsWith('--')) {
      if (!FLAG.test(token.text)) {
        throw new InputError(`"${token.text}" is not a flag; flags look like --dry-run (quote it to use it as text)`);
      }
      const flag = token.text.slice(2);
      if (!parsed.flags.includes(flag)) parsed.flags.push(flag);
    } else {
      parsed.words.push(token.text);
    }
  }
  return parsed;
}

/** Fails on any param or flag the subcommand does not take, naming the ones it does. */
export function expectOnly(
  args: ParsedArgs,
  subcommand: string,
  allowed: { params?: readonly string[]; flags?: readonly string[] },
): void {
  const params = allowed.params ?? [];
  const flags = allowed.flags ?? [];
  for (const key of Object.keys(args.params)) {
    if (!params.includes(key)) {
      const known = params.length > 0 ? `it takes ${params.map((p) => `${p}=`).join(', ')}` : 'it takes no key=value options';
      throw new InputError(
        `${subcommand}: unknown option ${key}=; ${known}. To write "${key}=${args.params[key]}" as text, put the text in quotes`,
      );
    }
  }
  for (const flag of args.flags) {
    if (!flags.includes(flag)) {
      const known = flags.length > 0 ? `it takes ${flags.map((f) => `--${f}`).join(', ')}` : 'it takes no flags';
      throw new InputError(`${subcommand}: unknown flag --${flag}; ${known}`);
    }
  }
}
