/**
 * Runs the work it is given one piece at a time, in the order given; a piece that fails does not
 * stop the next. For a DuckDB connection (which runs one statement at a time anyway, and whose
 * appenders must not interleave with queries) and for state that changes one step at a time.
 */
export function createSerialQueue(): <T>(work: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return (work) => {
    const result = queue.then(work, work);
    queue = result.catch(() => undefined);
    return result;
  };
}
