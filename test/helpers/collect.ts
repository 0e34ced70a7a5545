// Reads an async iterable to its end (Node 20 has no Array.fromAsync).
export async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}
