/** A sparse in-memory block target (tests and the simulator's restore checks). */

import type { BlockTarget } from "../../ports/block-target.ts";

const PAGE = 64 * 1024;

export class MemoryTarget implements BlockTarget {
  readonly #pages = new Map<number, Uint8Array>();

  constructor(readonly size: number) {}

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#check(offset, data.length);
    for (let done = 0; done < data.length;) {
      const at = offset + done;
      const page = this.#page(Math.floor(at / PAGE));
      const within = at % PAGE;
      const n = Math.min(PAGE - within, data.length - done);
      page.set(data.subarray(done, done + n), within);
      done += n;
    }
  }

  async zero(offset: number, length: number): Promise<void> {
    this.#check(offset, length);
    for (let done = 0; done < length;) {
      const at = offset + done;
      const pageNo = Math.floor(at / PAGE);
      const within = at % PAGE;
      const n = Math.min(PAGE - within, length - done);
      if (n === PAGE) this.#pages.delete(pageNo);
      else this.#pages.get(pageNo)?.fill(0, within, within + n);
      done += n;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.#check(offset, length);
    const out = new Uint8Array(length);
    for (let done = 0; done < length;) {
      const at = offset + done;
      const within = at % PAGE;
      const n = Math.min(PAGE - within, length - done);
      const page = this.#pages.get(Math.floor(at / PAGE));
      if (page !== undefined) out.set(page.subarray(within, within + n), done);
      done += n;
    }
    return out;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  #page(no: number): Uint8Array {
    let page = this.#pages.get(no);
    if (page === undefined) {
      page = new Uint8Array(PAGE);
      this.#pages.set(no, page);
    }
    return page;
  }

  #check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`target access ${offset}+${length} outside ${this.size} bytes`);
    }
  }
}
