/**
 * MemoryFileSystem backs memory logs and every crash test, so its model of durability must be
 * exact: crash() keeps each file's bytes as of its last sync() and each directory's entries as
 * of its last syncDirectory(), and drops the rest. Durable copies are copy-on-write, so
 * overwriting or truncating synced bytes must not change what a crash brings back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryFileSystem } from '../../src/storage/index.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

async function writeAt(
  fileSystem: MemoryFileSystem,
  file: string,
  data: Uint8Array,
  position: number,
): Promise<void> {
  const handle = await fileSystem.open(file);
  assert.equal(await handle.write(data, 0, data.length, position), data.length);
  await handle.close();
}

async function syncFile(fileSystem: MemoryFileSystem, file: string): Promise<void> {
  const handle = await fileSystem.open(file);
  await handle.sync();
  await handle.close();
}

test('crash drops unsynced bytes and keeps synced ones', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f');
  await fileSystem.syncDirectory('/d');
  await handle.write(bytes(1, 2, 3), 0, 3, 0);
  await handle.sync();
  await handle.write(bytes(4, 5), 0, 2, 3);
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2, 3, 4, 5));
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2, 3));
  // The survivor is a normal file again: it can be written, synced and crashed once more.
  const again = await fileSystem.open('/d/f');
  await again.write(bytes(9), 0, 1, 3);
  await again.sync();
  await again.write(bytes(8), 0, 1, 4);
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2, 3, 9));
});

test('crash drops a file whose directory was never synced, even if its data was', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/new');
  await handle.write(bytes(1), 0, 1, 0);
  await handle.sync();
  assert.deepEqual(await fileSystem.readdir('/d'), ['new']);
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readdir('/d'), []);
  assert.equal(await fileSystem.readFile('/d/new'), null);
});

test('a file whose directory was synced but whose data was not comes back empty', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  await writeAt(fileSystem, '/d/f', bytes(1, 2), 0);
  await fileSystem.syncDirectory('/d');
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/f'), new Uint8Array(0));
});

test('syncDirectory makes only that directory durable, not its siblings or children', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/a/child');
  await fileSystem.mkdir('/b');
  for (const file of ['/a/f', '/a/child/g', '/b/h']) {
    await writeAt(fileSystem, file, bytes(7), 0);
    await syncFile(fileSystem, file);
  }
  await fileSystem.syncDirectory('/a');
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/a/f'), bytes(7));
  assert.equal(await fileSystem.readFile('/a/child/g'), null);
  assert.equal(await fileSystem.readFile('/b/h'), null);
});

test('copy-on-write: overwriting synced bytes and not syncing leaves the synced bytes for a crash', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f');
  await fileSystem.syncDirectory('/d');
  await handle.write(bytes(1, 1, 1, 1), 0, 4, 0);
  await handle.sync();
  await handle.write(bytes(2, 2), 0, 2, 1); // overwrites inside the durable bytes
  await handle.write(bytes(3, 3, 3), 0, 3, 4); // and appends
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2, 2, 1, 3, 3, 3));
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 1, 1, 1));
});

test('copy-on-write: truncating synced bytes and not syncing leaves the synced bytes for a crash', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f');
  await fileSystem.syncDirectory('/d');
  await handle.write(bytes(1, 2, 3, 4, 5), 0, 5, 0);
  await handle.sync();
  await handle.truncate(2);
  assert.equal(await handle.size(), 2);
  await handle.truncate(4); // grows again, with zeros
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2, 0, 0));
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2, 3, 4, 5));
});

test('unlink and rename are undone by a crash unless the directory was synced after them', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  await writeAt(fileSystem, '/d/gone', bytes(1), 0);
  await writeAt(fileSystem, '/d/old', bytes(2), 0);
  await syncFile(fileSystem, '/d/gone');
  await syncFile(fileSystem, '/d/old');
  await fileSystem.syncDirectory('/d');
  await fileSystem.unlink('/d/gone');
  await fileSystem.rename('/d/old', '/d/new');
  assert.deepEqual(await fileSystem.readdir('/d'), ['new']);
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readdir('/d'), ['gone', 'old']);
  await fileSystem.unlink('/d/gone');
  await fileSystem.rename('/d/old', '/d/new');
  await fileSystem.syncDirectory('/d');
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readdir('/d'), ['new']);
  assert.deepEqual(await fileSystem.readFile('/d/new'), bytes(2));
});

test('rename over an existing file replaces it, and a crash before the directory sync brings the old one back', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  await writeAt(fileSystem, '/d/checkpoint', bytes(1), 0);
  await syncFile(fileSystem, '/d/checkpoint');
  await fileSystem.syncDirectory('/d');
  await writeAt(fileSystem, '/d/checkpoint.tmp', bytes(2), 0);
  await syncFile(fileSystem, '/d/checkpoint.tmp');
  await fileSystem.rename('/d/checkpoint.tmp', '/d/checkpoint');
  assert.deepEqual(await fileSystem.readFile('/d/checkpoint'), bytes(2));
  assert.deepEqual(await fileSystem.readdir('/d'), ['checkpoint']);
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/checkpoint'), bytes(1));
});

test('files behave like files: gaps read as zeros, reads past the end are short, removeDirectory removes all below', async () => {
  const fileSystem = new MemoryFileSystem();
  await assert.rejects(
    fileSystem.open('/missing/f'),
    (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
  );
  await assert.rejects(
    fileSystem.unlink('/missing/f'),
    (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
  );
  assert.deepEqual(await fileSystem.readdir('/missing'), []);
  assert.equal(await fileSystem.readFile('/missing/f'), null);
  await fileSystem.mkdir('/d/e');
  const handle = await fileSystem.open('/d/f');
  await handle.write(bytes(9, 9), 0, 2, 6000); // past the end, past the first buffer
  assert.equal(await handle.size(), 6002);
  const buffer = new Uint8Array(10).fill(0xff);
  assert.equal(await handle.read(buffer, 2, 8, 5996), 6);
  assert.deepEqual(buffer, bytes(0xff, 0xff, 0, 0, 0, 0, 9, 9, 0xff, 0xff));
  assert.equal(await handle.read(buffer, 0, 10, 7000), 0);
  assert.deepEqual(await fileSystem.readdir('/d'), ['e', 'f']);
  assert.equal(fileSystem.bytes(), 6002);
  await handle.close();
  await fileSystem.removeDirectory('/d');
  assert.deepEqual(await fileSystem.readdir('/d'), []);
  assert.equal(fileSystem.bytes(), 0);
});

test('a closed handle refuses every call with a rejected promise (EBADF), like the real disk, not a synchronous throw', async () => {
  const fileSystem = new MemoryFileSystem();
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f');
  await handle.close();
  const calls: [string, () => Promise<unknown>][] = [
    ['write', () => handle.write(bytes(1), 0, 1, 0)],
    ['read', () => handle.read(new Uint8Array(1), 0, 1, 0)],
    ['sync', () => handle.sync()],
    ['truncate', () => handle.truncate(0)],
    ['size', () => handle.size()],
  ];
  for (const [name, call] of calls) {
    let outcome: Promise<unknown> | null = null;
    assert.doesNotThrow(() => {
      outcome = call();
    }, `${name} on a closed handle throws synchronously instead of rejecting`);
    await assert.rejects(outcome!, (error: NodeJS.ErrnoException) => error.code === 'EBADF');
  }
});

/** One operation on one file, for the model test below. */
type FileOperation =
  | { kind: 'write'; position: number; data: Uint8Array }
  | { kind: 'truncate'; length: number }
  | { kind: 'sync' }
  | { kind: 'reopen' };

const operationArbitrary: fc.Arbitrary<FileOperation> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    position: fc.nat({ max: 9000 }),
    data: fc.uint8Array({ minLength: 1, maxLength: 300 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat({ max: 9000 }) }),
  fc.constant({ kind: 'sync' as const }),
  fc.constant({ kind: 'reopen' as const }),
);

/** A plain model of a file: its live bytes, and its bytes as of the last sync. */
function applyToModel(
  model: { live: Uint8Array; durable: Uint8Array },
  operation: FileOperation,
): void {
  if (operation.kind === 'write') {
    const end = operation.position + operation.data.length;
    const next = new Uint8Array(Math.max(model.live.length, end));
    next.set(model.live);
    next.set(operation.data, operation.position);
    model.live = next;
  } else if (operation.kind === 'truncate') {
    const next = new Uint8Array(operation.length);
    next.set(model.live.subarray(0, Math.min(operation.length, model.live.length)));
    model.live = next;
  } else if (operation.kind === 'sync') {
    model.durable = model.live.slice();
  }
}

test('crash brings back exactly the bytes of the last sync, whatever writes and truncates came after (model)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(operationArbitrary, { maxLength: 40 }), async (operations) => {
      const fileSystem = new MemoryFileSystem();
      await fileSystem.mkdir('/d');
      let handle = await fileSystem.open('/d/f');
      await fileSystem.syncDirectory('/d');
      const model = { live: new Uint8Array(0), durable: new Uint8Array(0) };
      for (const operation of operations) {
        if (operation.kind === 'write') {
          await handle.write(operation.data, 0, operation.data.length, operation.position);
        } else if (operation.kind === 'truncate') {
          await handle.truncate(operation.length);
        } else if (operation.kind === 'sync') {
          await handle.sync();
        } else {
          await handle.close();
          handle = await fileSystem.open('/d/f');
        }
        applyToModel(model, operation);
        assert.equal(await handle.size(), model.live.length);
      }
      assert.deepEqual(await fileSystem.readFile('/d/f'), model.live);
      fileSystem.crash();
      assert.deepEqual(await fileSystem.readFile('/d/f'), model.durable);
    }),
    { numRuns: 300, seed: 20_240_601 },
  );
});
