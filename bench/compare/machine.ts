/** What machine a run was on: cores, memory, CPU model, kernel, Node.js, file system. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem, tmpdir } from 'node:os';

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** Device and type of the file system the Weir data directories live on. */
  readonly dataFileSystem: string;
  readonly loadAverageAtStart: number;
}

function fileSystemOf(path: string): string {
  const result = spawnSync('df', ['--output=source,fstype', path], {
    encoding: 'utf8',
    timeout: 5000,
  });
  const line = (result.stdout ?? '').trim().split('\n')[1];
  return line ? line.trim().replace(/\s+/, ' ') : '?';
}

export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

export function describeMachine(): MachineInfo {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? '?',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    dataFileSystem: `${tmpdir()}: ${fileSystemOf(tmpdir())}`,
    loadAverageAtStart: loadAverage(),
  };
}
