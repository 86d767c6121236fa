/** Where a disk's bytes are written back: an image file, a block device, an NBD export. */
export interface BlockTarget {
  /** Size in bytes. */
  readonly size: number;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes [offset, offset+length) read as zeros (punch/discard where the target can). */
  zero(offset: number, length: number): Promise<void>;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Makes every completed write durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
