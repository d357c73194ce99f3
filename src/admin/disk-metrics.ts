/**
 * Free and total bytes of the file system that holds the data directory, read with statfs at
 * scrape time (one system call per scrape, nothing kept), so an alert can fire before a full
 * disk makes writes fail and the streams stop taking appends (docs/alerts.yml). A memory
 * broker has no data directory and exports neither series. A failed statfs (the directory
 * was removed) leaves the series out of that scrape rather than failing /metrics.
 */
import { statfs } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';

export function registerDiskMetrics(registry: Registry, dataDir: string): void {
  const read = async (): Promise<{ free: number; size: number } | null> => {
    try {
      const stats = await statfs(dataDir);
      // bavail: blocks an unprivileged writer may still use (bfree counts root's reserve too).
      return { free: stats.bavail * stats.bsize, size: stats.blocks * stats.bsize };
    } catch {
      return null;
    }
  };
  new Gauge({
    name: 'weir_data_dir_free_bytes',
    help: 'Bytes the broker may still write on the file system of its data directory.',
    registers: [registry],
    async collect() {
      this.reset();
      const disk = await read();
      if (disk) this.set(disk.free);
    },
  });
  new Gauge({
    name: 'weir_data_dir_size_bytes',
    help: 'Size of the file system of the data directory.',
    registers: [registry],
    async collect() {
      this.reset();
      const disk = await read();
      if (disk) this.set(disk.size);
    },
  });
}
