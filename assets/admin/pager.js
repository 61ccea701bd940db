// Keyset paging forward and back over a connection that only goes forward (`first`/`after`):
// the cursor each visited page started at is kept, so "Previous" asks for that page again.

export function createPager() {
  let starts = [null];
  let index = 0;
  let next = null;
  return {
    /** The `after` of the current page. */
    get after() {
      return starts[index];
    },
    get number() {
      return index + 1;
    },
    get hasPrevious() {
      return index > 0;
    },
    get hasNext() {
      return next !== null;
    },
    /** Takes a page's `pageInfo`. */
    update(pageInfo) {
      next = pageInfo.hasNextPage ? pageInfo.endCursor : null;
    },
    forward() {
      if (next === null) return;
      starts = starts.slice(0, index + 1).concat([next]);
      index += 1;
    },
    back() {
      if (index > 0) index -= 1;
    },
    reset() {
      starts = [null];
      index = 0;
      next = null;
    },
  };
}
