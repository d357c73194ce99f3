/**
 * One schedule's file: its definition and its firing state, replaced atomically
 * (metadata-file.ts: `.tmp`, fsync, rename, fsync the directory) at each step of a firing.
 *
 *   <dataDir>/schedules/<name>.json
 *   { "version": 1, "name", "createdAtMs", "config": ScheduleConfig,
 *     "state": { "doneMs":  every tick at or before this time is handled (fired, failed or
 *                           skipped); the creation time before the first,
 *                "lastFiredMs", "fired", "skipped", "failed", "lastError": {code, message} | null,
 *                "intent": null | { "tickMs", "routes": [ { "stream", "partition", "endOffset" } ] } } }
 *
 * Recovery rule: an `intent` says tick `tickMs` was being published, and where each partition
 * the subject routed to ended just before; its messages, if they were stored, are at or after
 * those offsets, with headers weir-schedule = name and weir-schedule-tick = tickMs. At open the
 * schedule looks there and publishes only to the streams that lack it (cron-schedules.ts). A
 * file without `state.intent` was between firings. A leftover `.tmp` is an unfinished write.
 * A file that is not valid JSON or fails its checks makes the open fail with CORRUPT_DATA.
 */
import * as path from 'node:path';
import type { FailureInfo, ScheduleConfig } from '../protocol/index.js';
import type { FileSystem } from '../storage/index.js';
import { WeirError } from '../util/index.js';
import { parseStoredScheduleConfig } from './cron-config.js';
import { readJsonFile, writeJsonFile } from './metadata-file.js';
import { validateName } from './option-checks.js';

const SCHEDULE_FILE_VERSION = 1;
export const SCHEDULES_DIRECTORY = 'schedules';
const SUFFIX = '.json';

/** Where a partition ended when a tick's intent was written. */
export interface IntentRoute {
  readonly stream: string;
  readonly partition: number;
  readonly endOffset: number;
}

export interface FiringIntent {
  readonly tickMs: number;
  readonly routes: readonly IntentRoute[];
}

export interface ScheduleState {
  readonly doneMs: number;
  readonly lastFiredMs: number | null;
  readonly fired: number;
  readonly skipped: number;
  readonly failed: number;
  readonly lastError: FailureInfo | null;
  readonly intent: FiringIntent | null;
}

export interface ScheduleRecord {
  readonly name: string;
  readonly createdAtMs: number;
  readonly config: ScheduleConfig;
  readonly state: ScheduleState;
}

export function scheduleFile(root: string, name: string): string {
  return path.join(root, SCHEDULES_DIRECTORY, name + SUFFIX);
}

export function writeScheduleFile(
  fileSystem: FileSystem,
  root: string,
  record: ScheduleRecord,
): Promise<void> {
  return writeJsonFile(fileSystem, scheduleFile(root, record.name), {
    version: SCHEDULE_FILE_VERSION,
    ...record,
  });
}

export async function removeScheduleFile(
  fileSystem: FileSystem,
  root: string,
  name: string,
): Promise<void> {
  await fileSystem.unlink(scheduleFile(root, name));
  await fileSystem.syncDirectory(path.join(root, SCHEDULES_DIRECTORY));
}

/** Every schedule's record, by name. */
export async function readScheduleFiles(
  fileSystem: FileSystem,
  root: string,
): Promise<ScheduleRecord[]> {
  const directory = path.join(root, SCHEDULES_DIRECTORY);
  await fileSystem.mkdir(directory);
  const records: ScheduleRecord[] = [];
  for (const entry of (await fileSystem.readdir(directory)).sort()) {
    if (!entry.endsWith(SUFFIX)) continue; // a `.tmp` left by an unfinished write
    const file = path.join(directory, entry);
    const value = await readJsonFile(fileSystem, file);
    if (value === null) continue;
    try {
      records.push(parseRecord(value, entry.slice(0, -SUFFIX.length)));
    } catch (error) {
      throw new WeirError('CORRUPT_DATA', `${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return records;
}

function parseRecord(value: unknown, fileName: string): ScheduleRecord {
  const stored = value as {
    version?: unknown;
    name?: unknown;
    createdAtMs?: unknown;
    config?: unknown;
    state?: Partial<Record<keyof ScheduleState, unknown>>;
  };
  if (stored.version !== SCHEDULE_FILE_VERSION) {
    throw new Error(`unknown version ${String(stored.version)}`);
  }
  const name = validateName(stored.name, 'name');
  if (name !== fileName) throw new Error(`names schedule ${name}`);
  const state = stored.state ?? {};
  return {
    name,
    createdAtMs: time(stored.createdAtMs, 'createdAtMs'),
    config: parseStoredScheduleConfig(stored.config),
    state: {
      doneMs: time(state.doneMs, 'state.doneMs'),
      lastFiredMs: state.lastFiredMs === null ? null : time(state.lastFiredMs, 'state.lastFiredMs'),
      fired: count(state.fired, 'state.fired'),
      skipped: count(state.skipped, 'state.skipped'),
      failed: count(state.failed, 'state.failed'),
      lastError: failure(state.lastError),
      intent: intent(state.intent),
    },
  };
}

function time(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${field} is not a time`);
  }
  return value;
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${field} is not a count`);
  }
  return value;
}

function failure(value: unknown): FailureInfo | null {
  if (value === null || value === undefined) return null;
  const { code, message } = value as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') {
    throw new Error('state.lastError is not an error');
  }
  return { code, message };
}

function intent(value: unknown): FiringIntent | null {
  if (value === null || value === undefined) return null;
  const { tickMs, routes } = value as { tickMs?: unknown; routes?: unknown };
  if (!Array.isArray(routes)) throw new Error('state.intent.routes is not a list');
  return {
    tickMs: time(tickMs, 'state.intent.tickMs'),
    routes: routes.map((route: { stream?: unknown; partition?: unknown; endOffset?: unknown }) => ({
      stream: validateName(route.stream, 'state.intent.routes[].stream'),
      partition: count(route.partition, 'state.intent.routes[].partition'),
      endOffset: count(route.endOffset, 'state.intent.routes[].endOffset'),
    })),
  };
}
