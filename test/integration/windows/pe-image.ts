/**
 * Just enough of the PE/COFF format to check a cross-compiled addon: machine, DLL flag, exported
 * names and imported DLLs with their symbols. Written from the PE format specification, and
 * cross-checked against objdump in the test that uses it.
 */

export interface PeImage {
  readonly machine: number;
  readonly isDll: boolean;
  readonly exports: readonly string[];
  readonly imports: ReadonlyMap<string, readonly string[]>;
}

interface Section {
  readonly virtualAddress: number;
  readonly virtualSize: number;
  readonly rawPointer: number;
  readonly rawSize: number;
}

export function readPe(file: Buffer): PeImage {
  if (file.toString("latin1", 0, 2) !== "MZ") throw new Error("no MZ header");
  const pe = file.readUInt32LE(0x3c);
  if (file.toString("latin1", pe, pe + 4) !== "PE\0\0") throw new Error("no PE signature");
  const coff = pe + 4;
  const machine = file.readUInt16LE(coff);
  const sectionCount = file.readUInt16LE(coff + 2);
  const optionalSize = file.readUInt16LE(coff + 16);
  const characteristics = file.readUInt16LE(coff + 18);
  const optional = coff + 20;
  if (file.readUInt16LE(optional) !== 0x20b) throw new Error("not a PE32+ image");
  const directories = optional + 112;
  const sections: Section[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const at = optional + optionalSize + i * 40;
    sections.push({
      virtualSize: file.readUInt32LE(at + 8),
      virtualAddress: file.readUInt32LE(at + 12),
      rawSize: file.readUInt32LE(at + 16),
      rawPointer: file.readUInt32LE(at + 20),
    });
  }
  const offsetOf = (rva: number): number => {
    const s = sections.find(
      (x) => rva >= x.virtualAddress && rva < x.virtualAddress + Math.max(x.virtualSize, x.rawSize),
    );
    if (s === undefined) throw new Error(`RVA ${rva} is in no section`);
    return rva - s.virtualAddress + s.rawPointer;
  };
  const cString = (rva: number): string => {
    const at = offsetOf(rva);
    return file.toString("latin1", at, file.indexOf(0, at));
  };

  const exports: string[] = [];
  const exportRva = file.readUInt32LE(directories);
  if (exportRva !== 0) {
    const dir = offsetOf(exportRva);
    const names = file.readUInt32LE(dir + 24);
    const namePointers = offsetOf(file.readUInt32LE(dir + 32));
    for (let i = 0; i < names; i++) exports.push(cString(file.readUInt32LE(namePointers + i * 4)));
  }

  const imports = new Map<string, string[]>();
  const importRva = file.readUInt32LE(directories + 8);
  if (importRva !== 0) {
    for (let d = offsetOf(importRva); file.readUInt32LE(d + 12) !== 0; d += 20) {
      const dll = cString(file.readUInt32LE(d + 12));
      const lookup = file.readUInt32LE(d) || file.readUInt32LE(d + 16);
      const symbols: string[] = [];
      for (let t = offsetOf(lookup); ; t += 8) {
        const entry = file.readBigUInt64LE(t);
        if (entry === 0n) break;
        // High bit: import by ordinal; otherwise an RVA of a hint/name entry.
        symbols.push(entry >> 63n ? `#${entry & 0xffffn}` : cString(Number(entry & 0x7fffffffn) + 2));
      }
      imports.set(dll, symbols);
    }
  }
  return { machine, isDll: (characteristics & 0x2000) !== 0, exports, imports };
}
