// The shape a port takes once it is asynchronous: the same methods, each returning a Promise.

/** `T` with every method returning a Promise of what it returns today. */
export type Async<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : T[K];
};
