// Which bad files a daemon has already reported. A directory where a heartbeat should be is
// seen on every pass; the decision log says so once, and again only if it changes or comes
// back after the file read well.
export class BadFileNotes {
  private readonly told = new Map<string, string>();

  /** True the first time `path` is bad for this `problem` (report it then); false while it stays so. */
  first(path: string, problem: string): boolean {
    if (this.told.get(path) === problem) return false;
    this.told.set(path, problem);
    return true;
  }

  /** `path` read well (or is gone): a later problem with it is reported again. */
  clear(path: string): void {
    this.told.delete(path);
  }
}
