/**
 * Disk bytes as an array of immutable 64 KiB pages (`undefined` = zeros). Pages are never changed
 * in place — a write replaces each touched page with a modified copy — so copying the array is a
 * complete, cheap point-in-time image that shares every unchanged page.
 */
export const PAGE_SIZE = 64 * 1024;

export type Page = Uint8Array | undefined;

export function pagesFor(capacity: number): number {
  return Math.ceil(capacity / PAGE_SIZE);
}

/** A fresh copy of [offset, offset+length); holes read as zeros. */
export function readPages(pages: readonly Page[], offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  forEachPiece(offset, length, (index, within, n, at) => {
    const page = pages[index];
    if (page !== undefined) out.set(page.subarray(within, within + n), at);
  });
  return out;
}

/** Writes `data` at `offset` by replacing each touched page with a modified copy. */
export function writePages(pages: Page[], offset: number, data: Uint8Array): void {
  forEachPiece(offset, data.length, (index, within, n, at) => {
    const old = pages[index];
    const page = n === PAGE_SIZE || old === undefined ? new Uint8Array(PAGE_SIZE) : old.slice();
    page.set(data.subarray(at, at + n), within);
    pages[index] = page;
  });
}

/** Indexes of the pages a byte range touches. */
export function pageRange(offset: number, length: number): { first: number; last: number } {
  return { first: Math.floor(offset / PAGE_SIZE), last: Math.floor((offset + length - 1) / PAGE_SIZE) };
}

function forEachPiece(
  offset: number,
  length: number,
  visit: (index: number, within: number, n: number, at: number) => void,
): void {
  for (let pos = offset, end = offset + length; pos < end;) {
    const index = Math.floor(pos / PAGE_SIZE);
    const within = pos - index * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - within, end - pos);
    visit(index, within, n, pos - offset);
    pos += n;
  }
}
