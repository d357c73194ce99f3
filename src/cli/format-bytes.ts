/** Byte counts for people: B, KiB, MiB, GiB. */
const KIBIBYTE = 1024;

export function formatBytes(bytes: number): string {
  if (bytes < KIBIBYTE) return `${bytes} B`;
  if (bytes < KIBIBYTE * KIBIBYTE) return `${(bytes / KIBIBYTE).toFixed(1)} KiB`;
  if (bytes < KIBIBYTE ** 3) return `${(bytes / KIBIBYTE / KIBIBYTE).toFixed(1)} MiB`;
  return `${(bytes / KIBIBYTE ** 3).toFixed(2)} GiB`;
}
