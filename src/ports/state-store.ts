/**
 * A source's local durable state (registration, in-flight job checkpoint). Each write replaces the
 * value atomically: after a crash a reader sees the old value or the new one, never a mix.
 */
export interface StateStore {
  read<T>(key: string): Promise<T | undefined>;
  write(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}
