import { readFile, stat } from "node:fs/promises";

/** Size in bytes of a regular file or a Linux block device (whose stat size is 0). */
export async function deviceSize(path: string): Promise<number> {
  const st = await stat(path);
  if (st.isFile()) return st.size;
  if (st.isBlockDevice()) {
    const major = Math.floor(st.rdev / 256) & 0xfff;
    const minor = (st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00);
    const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, "utf8")).trim());
    return sectors * 512;
  }
  throw new Error(`${path} is neither a regular file nor a block device`);
}
