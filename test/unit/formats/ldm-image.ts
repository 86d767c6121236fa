/**
 * Synthetic Windows dynamic disks for the LDM tests. No disk written by Windows' LDM was available
 * to record (see ../../fixtures/ntfs/README.md), so these follow the layout the Linux kernel's LDM
 * driver and libldm read: any disagreement with real disks would show there first.
 */

export interface LdmVolumeSpec {
  readonly name: string;
  /** "gen" (simple, spanned, striped, mirrored) or "raid5". */
  readonly volumeType?: string;
  /** Component types (1 striped, 2 simple/spanned, 3 RAID-5), one per plex; two plexes = a mirror. */
  readonly components: readonly number[];
  /** Partitions of each component: which disk (0 = this one) and how many sectors. */
  readonly partitions: readonly { component: number; disk: number; sectors: number }[];
}

/**
 * An MBR dynamic disk in memory, laid out as the Linux kernel's LDM driver reads it: one 0x42
 * partition, PRIVHEAD in sector 6, and the 1 MiB database (TOCBLOCK, VMDB, 128-byte VBLKs) at the
 * end. Enough to test detection and the volume-layout classification; no real Windows disk was
 * available to record one.
 */
export function dynamicDiskImage(volumes: readonly LdmVolumeSpec[], size = 16 << 20): Uint8Array {
  const disk = new Uint8Array(size);
  const view = new DataView(disk.buffer);
  const sectors = size / 512;
  const configSize = 2048;
  const configStart = sectors - configSize;
  view.setUint8(446 + 4, 0x42);
  view.setUint32(446 + 8, 63, true);
  view.setUint32(446 + 12, sectors - 63, true);
  view.setUint16(510, 0xaa55, true);
  const ascii = (at: number, text: string) => disk.set(new TextEncoder().encode(text), at);
  const guids = [0, 1, 2].map((i) => `1b77da20-c717-11d0-a5be-00a0c91db7${i}a`.toUpperCase());
  const ph = 6 * 512;
  ascii(ph, "PRIVHEAD");
  view.setUint16(ph + 0x0c, 2);
  view.setUint16(ph + 0x0e, 12);
  ascii(ph + 0x30, guids[0] as string);
  ascii(ph + 0xf0, "WinDg0");
  view.setBigUint64(ph + 0x11b, 63n);
  view.setBigUint64(ph + 0x123, BigInt(configStart - 63));
  view.setBigUint64(ph + 0x12b, BigInt(configStart));
  view.setBigUint64(ph + 0x133, BigInt(configSize));
  const toc = (configStart + 1) * 512;
  ascii(toc, "TOCBLOCK");
  ascii(toc + 0x24, "config");
  view.setBigUint64(toc + 0x2e, 17n);
  view.setBigUint64(toc + 0x36, 1472n);
  ascii(toc + 0x46, "log");
  view.setBigUint64(toc + 0x50, 1489n);
  view.setBigUint64(toc + 0x58, 224n);

  const records: Uint8Array[] = [];
  let nextId = 1;
  const vblk = (type: number, fields: (put: (rel: number, bytes: number[]) => number) => void) => {
    const r = new Uint8Array(128);
    r[0x13] = type;
    let end = 0;
    fields((at, bytes) => {
      r.set(bytes, at);
      end = Math.max(end, at + bytes.length);
      return bytes.length;
    });
    new DataView(r.buffer).setUint32(0x14, end - 0x18);
    records.push(r);
  };
  const str = (s: string) => [s.length, ...new TextEncoder().encode(s)];
  const num = (n: number) => [4, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const diskIds = guids.map((guid, i) => {
    const id = nextId++;
    vblk(0x34, (put) => {
      const rObj = put(0x18, [1, id]);
      const rName = rObj + put(0x18 + rObj, str(`Disk${i + 1}`));
      put(0x18 + rName, str(guid));
    });
    return id;
  });
  let start = 0;
  for (const v of volumes) {
    const volumeId = nextId++;
    const componentIds = v.components.map(() => nextId++);
    vblk(0x51, (put) => {
      const rObj = put(0x18, [1, volumeId]);
      const rName = rObj + put(0x18 + rObj, str(v.name));
      const rType = rName + put(0x18 + rName, str(v.volumeType ?? "gen"));
      const rLetter = rType + put(0x18 + rType, [0]);
      const rChild = rLetter + put(0x2d + rLetter, [1, v.components.length]);
      const total = v.partitions.reduce((n, p) => n + p.sectors, 0);
      put(0x3d + rChild, num(total));
    });
    v.components.forEach((type, c) => {
      vblk(0x32, (put) => {
        const rObj = put(0x18, [1, componentIds[c] as number]);
        const rName = rObj + put(0x18 + rObj, str(`${v.name}-01`));
        const rState = rName + put(0x18 + rName, str("ACTIVE"));
        put(0x18 + rState, [type]);
        const rChild = rState + put(0x1d + rState, [1, v.partitions.filter((p) => p.component === c).length]);
        put(0x2d + rChild, [1, volumeId]);
      });
    });
    for (const p of v.partitions) {
      const partitionId = nextId++;
      vblk(0x33, (put) => {
        const rObj = put(0x18, [1, partitionId]);
        const rName = rObj + put(0x18 + rObj, str(`Disk1-${partitionId}`));
        const startBytes = new Uint8Array(8);
        new DataView(startBytes.buffer).setBigUint64(0, BigInt(start));
        put(0x24 + rName, [...startBytes]);
        const rSize = rName + put(0x34 + rName, num(p.sectors));
        const rParent = rSize + put(0x34 + rSize, [1, componentIds[p.component] as number]);
        put(0x34 + rParent, [1, diskIds[p.disk] as number]);
      });
      start += p.sectors;
    }
  }
  const vmdb = (configStart + 17) * 512;
  ascii(vmdb, "VMDB");
  view.setUint32(vmdb + 4, 4 + records.length);
  view.setUint32(vmdb + 8, 128);
  view.setUint32(vmdb + 0x0c, 512);
  view.setUint16(vmdb + 0x10, 1);
  view.setUint16(vmdb + 0x12, 4);
  view.setUint16(vmdb + 0x14, 10);
  records.forEach((r, i) => {
    const at = vmdb + 512 + i * 128;
    disk.set(r, at);
    ascii(at, "VBLK");
    new DataView(disk.buffer).setUint32(at + 4, i + 5);
    new DataView(disk.buffer).setUint32(at + 8, i + 1);
    new DataView(disk.buffer).setUint16(at + 0x0e, 1);
  });
  return disk;
}
