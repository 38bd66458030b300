/** Why a cell cannot be read as the mapping says: a value, not an exception. */
export class ValueError {
  constructor(readonly reason: string) {}
}
