#!/usr/bin/env node
/**
 * npm run test:amqp — RabbitMQ's own clients, unchanged, against `weir serve --amqp`. Not part of
 * `npm test`: it needs root (a network namespace), and amqplib's live tests come from a checkout
 * of amqplib that is not in this repository.
 *
 *   npm run test:amqp -- [--amqplib-source DIR]     (or env AMQPLIB_SOURCE=DIR)
 *
 * amqplib's tests and the RabbitMQ tutorials connect to amqp://localhost (5672) hard-coded, and
 * the machine may run a real RabbitMQ there: so everything runs in a network namespace of its own
 * (`ip netns add weir-amqp-<pid>`, only loopback in it), where `weir serve --amqp` has 5672.
 *
 * Parts, each printed as PASS / FAIL / SKIPPED with its reason, then a summary line
 * ("N passed, N failed, N skipped"); the exit code is 1 if any part failed:
 *  1. the namespace and `weir serve --data-dir <temp> --port 0 --no-http --amqp` in it;
 *  2. amqplib's live-broker tests (channel_api, callback_api, connect), from --amqplib-source,
 *     one `node --test` per file; the failures listed in EXPECTED_DEVIATIONS are allowed (each
 *     with its reason and the failure message it must have), any other fails the part. Plus
 *     connect.test.js's own 'ipv6' test against a second `weir serve --host ::1`;
 *  3. the six tutorials shipped in the amqplib package (node_modules/amqplib/examples/tutorials);
 *  4. amqp-connection-manager (confirm channel producer, prefetch+ack consumer) across a restart
 *     of `weir serve` on the same data directory and port: once SIGTERM, once SIGKILL. Every
 *     confirmed message must be consumed (at least once; duplicates are counted and shown).
 *
 * Every wait is bounded; the whole run stops after TOTAL_MS. The namespace, the child processes
 * and the temporary directory are removed on every path (also on SIGINT/SIGTERM of this script).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout, clearTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const TUTORIALS = path.join(ROOT, 'node_modules', 'amqplib', 'examples', 'tutorials');

/** The whole run ends within this (then: FAIL, clean-up, exit 1). */
const TOTAL_MS = 290_000;
/** A client prints what it is waiting for / a consumer gets its message within this. */
const WAIT_MS = 10_000;
/** `weir serve` starts (or stops after SIGTERM) within this. */
const SERVE_MS = 20_000;
/** One amqplib test file runs within this. */
const SUITE_FILE_MS = 90_000;
/** npm ci / npm install in the amqplib checkout ends within this. */
const INSTALL_MS = 180_000;
/** After the last expected message, a consumer gets no unexpected one within this. */
const SETTLE_MS = 500;

const SUITE_FILES = [
  'test/channel_api.test.js',
  'test/callback_api.test.js',
  'test/connect.test.js',
];

/**
 * amqplib test failures that are expected against Weir. Each is allowed only with the failure
 * message given (a different failure of the same test still fails the part).
 */
const EXPECTED_DEVIATIONS = [
  {
    file: 'test/connect.test.js',
    test: 'serverProperties',
    failure: /'Weir' == 'RabbitMQ'/,
    reason:
      "asserts server-properties product === 'RabbitMQ'; Weir announces itself as 'Weir' on purpose",
  },
  {
    file: 'test/connect.test.js',
    test: 'ipv6',
    failure: /ECONNREFUSED ::1:5672/,
    reason:
      'connects to amqp://[::1] while the suite also needs amqp://localhost (127.0.0.1 here): serve listens on one --host, ' +
      "`--host ::` (both) is refused without users (exposure check) and a guest/guest user can't be made (passwords are 8+ bytes); " +
      'the same test is run against `weir serve --host ::1` below',
  },
];

// ---------------------------------------------------------------------------------------------
// Results

const results = [];
/** Set once the run stops (done, interrupted, or past TOTAL_MS). */
let finishing = false;
function report(status, part, detail = '') {
  if (finishing) return; // after an interrupt or the deadline: parts cut off by the clean-up say nothing
  results.push({ status, part });
  const label = status.padEnd(7);
  console.log(`${label} ${part}${detail === '' ? '' : `: ${detail}`}`);
}
function note(text) {
  console.log(`        ${text}`);
}
let summarized = false;
function summary() {
  if (summarized) return 1;
  summarized = true;
  const count = (status) => results.filter((result) => result.status === status).length;
  const failed = results.filter((result) => result.status === 'FAIL').map((result) => result.part);
  console.log('');
  if (failed.length > 0) console.log(`failed: ${failed.join('; ')}`);
  console.log(
    `test:amqp: ${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIPPED')} skipped`,
  );
  return failed.length > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Processes, the namespace, the temporary directory, clean-up

const children = new Set();
/** Checks of until(): each is run again on any child's output or exit (a check may read several children). */
const listeners = new Set();
const notify = () => listeners.forEach((listener) => listener());
let namespace = null;
let temporary = null;
let cleanedUp = false;

function run(command, args, { timeout = 10_000, cwd, env } = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout, cwd, env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${command} ${args.join(' ')}: ${(stderr || error.message).trim()}`))
          : resolve(stdout),
    );
  });
}

/** This environment without the WEIR_ variables a developer may have set and without URL. */
function cleanEnvironment(extra = {}) {
  const environment = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('WEIR_') && name !== 'URL' && name !== 'NODE_PATH')
      environment[name] = value;
  }
  return { ...environment, ...extra };
}

/**
 * A child in the namespace (`ip netns exec` execs the command: the child's pid is the program's,
 * so a signal reaches it). Its stdout and stderr are kept, as lines too.
 */
function startIn(argv, { cwd = ROOT, env = cleanEnvironment(), name = argv.join(' ') } = {}) {
  const child = spawn('ip', ['netns', 'exec', namespace, ...argv], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let running = true;
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
    notify();
  });
  const exited = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      running = false;
      children.delete(handle);
      notify();
      resolve(code ?? signal);
    }),
  );
  child.on('error', (error) => {
    stderr += `spawn error: ${error.message}\n`;
    notify();
  });
  const handle = {
    name,
    child,
    exited,
    running: () => running,
    stdout: () => stdout,
    stderr: () => stderr,
    lines: () => stdout.split('\n').filter((line) => line !== ''),
    /** Resolves once check() is true (checked on each output and at exit); rejects past ms. */
    until(check, what, ms = WAIT_MS) {
      return new Promise((resolve, reject) => {
        const finish = (error) => {
          clearTimeout(timer);
          listeners.delete(test);
          if (error === undefined) resolve();
          else reject(error);
        };
        const test = () => {
          if (check()) finish();
          else if (!running) finish(new Error(`${name} exited before ${what}${tail(handle)}`));
        };
        const timer = setTimeout(
          () => finish(new Error(`${name}: no ${what} within ${ms} ms${tail(handle)}`)),
          ms,
        );
        listeners.add(test);
        test();
      });
    },
    waitFor(pattern, ms = WAIT_MS) {
      return handle.until(() => pattern.test(stdout) || pattern.test(stderr), String(pattern), ms);
    },
    /** Sends the signal and waits for the exit; SIGKILL after ms. Resolves to the exit code or signal. */
    async stop(signal = 'SIGTERM', ms = WAIT_MS) {
      if (running) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  children.add(handle);
  return handle;
}

function tail(handle, lines = 8) {
  const text = `${handle.stdout()}\n${handle.stderr()}`
    .trim()
    .split('\n')
    .slice(-lines)
    .join('\n    ');
  return text === '' ? ' (no output)' : `; last output:\n    ${text}`;
}

async function cleanUp() {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const handle of [...children]) {
    if (handle.running()) handle.child.kill('SIGKILL');
  }
  await Promise.race([
    Promise.all([...children].map((handle) => handle.exited)),
    new Promise((resolve) => setTimeout(resolve, 3_000)),
  ]);
  if (namespace !== null) {
    await run('ip', ['netns', 'del', namespace]).catch((error) =>
      console.error(`could not delete network namespace ${namespace}: ${error.message}`),
    );
  }
  if (temporary !== null) await rm(temporary, { recursive: true, force: true });
}

async function finish(code) {
  if (finishing) return;
  finishing = true;
  await cleanUp();
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.log(`\n${signal}: stopping, cleaning up`);
    report('FAIL', 'run', `interrupted by ${signal}`);
    summary();
    void finish(130);
  });
}
const deadline = setTimeout(() => {
  report('FAIL', 'run', `did not finish within ${TOTAL_MS / 1000} s`);
  summary();
  void finish(1);
}, TOTAL_MS);

// ---------------------------------------------------------------------------------------------
// weir serve in the namespace

function startServe(dataDir, extra = []) {
  const server = startIn(
    [
      process.execPath,
      MAIN,
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--no-http',
      '--amqp',
      ...extra,
    ],
    { name: `weir serve ${extra.join(' ')}`.trim() },
  );
  return server;
}

async function startedServe(dataDir, extra = []) {
  const server = startServe(dataDir, extra);
  await server.waitFor(/"event":"amqp_listening"/, SERVE_MS);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Part 2: amqplib's live tests

function parseNodeTest(output) {
  const lines = output.split('\n');
  const number = (key) => {
    const line = lines.find((candidate) => candidate.startsWith(`ℹ ${key} `));
    return line === undefined ? null : Number(line.slice(`ℹ ${key} `.length));
  };
  const failures = [];
  const start = lines.findIndex((line) => line.startsWith('✖ failing tests:'));
  if (start !== -1) {
    let file = null;
    let current = null;
    for (const line of lines.slice(start + 1)) {
      const at = /^test at (.+?):\d+:\d+$/.exec(line);
      if (at !== null) {
        file = at[1];
        current = null;
        continue;
      }
      const failed = /^✖ (.+?)(?: \([\d.]+m?s\))?$/.exec(line);
      if (failed !== null) {
        current = { file, test: failed[1], detail: '' };
        failures.push(current);
        file = null;
        continue;
      }
      if (current !== null) current.detail += `${line}\n`;
    }
  }
  return {
    tests: number('tests'),
    pass: number('pass'),
    fail: number('fail'),
    cancelled: number('cancelled'),
    failures,
  };
}

function deviationOf(failure, file) {
  return EXPECTED_DEVIATIONS.find(
    (deviation) =>
      deviation.file === file &&
      deviation.test === failure.test &&
      (failure.file === null || failure.file.endsWith(deviation.file)) &&
      deviation.failure.test(failure.detail),
  );
}

async function amqplibSource() {
  const given = argument('--amqplib-source') ?? process.env.AMQPLIB_SOURCE;
  if (given === undefined || given === '') return null;
  return path.resolve(given);
}

async function runSuiteFile(source, file) {
  const suite = startIn([process.execPath, '--test', '--test-reporter=spec', file], {
    cwd: source,
    name: `node --test ${file}`,
  });
  const timer = setTimeout(() => suite.child.kill('SIGKILL'), SUITE_FILE_MS);
  const code = await suite.exited;
  clearTimeout(timer);
  return { code, output: suite.stdout() + suite.stderr(), timedOut: code === 'SIGKILL' };
}

async function amqplibTests(dataRoot) {
  const part = (file) => `amqplib ${file}`;
  const source = await amqplibSource();
  const how =
    'give a checkout of https://github.com/amqp-node/amqplib with --amqplib-source DIR or env AMQPLIB_SOURCE ' +
    '(its live tests are not in the npm package)';
  if (source === null) {
    for (const file of SUITE_FILES) report('SKIPPED', part(file), `no amqplib source: ${how}`);
    report(
      'SKIPPED',
      "amqplib connect.test.js 'ipv6' against weir serve --host ::1",
      'no amqplib source',
    );
    return;
  }
  const missing = SUITE_FILES.filter((file) => !existsSync(path.join(source, file)));
  if (missing.length > 0) {
    for (const file of SUITE_FILES) {
      report(
        'FAIL',
        part(file),
        `${source} is not an amqplib checkout (no ${missing.join(', ')}): ${how}`,
      );
    }
    return;
  }
  if (!existsSync(path.join(source, 'node_modules'))) {
    const install = existsSync(path.join(source, 'package-lock.json')) ? ['ci'] : ['install'];
    console.log(`        ${source} has no node_modules: npm ${install[0]} (outside the namespace)`);
    try {
      await run('npm', [...install, '--no-audit', '--no-fund'], {
        cwd: source,
        timeout: INSTALL_MS,
      });
    } catch (error) {
      for (const file of SUITE_FILES)
        report('FAIL', part(file), `npm ${install[0]} in ${source} failed: ${error.message}`);
      return;
    }
  }
  for (const file of SUITE_FILES) {
    const { output, timedOut } = await runSuiteFile(source, file);
    const parsed = parseNodeTest(output);
    if (timedOut || parsed.tests === null || parsed.fail === null) {
      report(
        'FAIL',
        part(file),
        `${timedOut ? `killed after ${SUITE_FILE_MS / 1000} s` : 'no node:test summary'}; output ends:\n    ${output.trim().split('\n').slice(-15).join('\n    ')}`,
      );
      continue;
    }
    const allowed = [];
    const unexpected = [];
    for (const failure of parsed.failures) {
      const deviation = deviationOf(failure, file);
      (deviation === undefined ? unexpected : allowed).push({ failure, deviation });
    }
    const counts = `${parsed.tests} tests, ${parsed.pass} pass, ${parsed.fail} fail, ${parsed.cancelled ?? 0} cancelled`;
    const passedAnyway = EXPECTED_DEVIATIONS.filter(
      (deviation) =>
        deviation.file === file && !allowed.some((entry) => entry.deviation === deviation),
    );
    const ok =
      unexpected.length === 0 && (parsed.cancelled ?? 0) === 0 && parsed.fail === allowed.length;
    report(
      ok ? 'PASS' : 'FAIL',
      part(file),
      counts + (allowed.length > 0 ? `, ${allowed.length} allow-listed` : ''),
    );
    for (const { failure, deviation } of allowed)
      note(`allowed: '${failure.test}': ${deviation.reason}`);
    for (const deviation of passedAnyway) note(`allow-listed but passed: '${deviation.test}'`);
    for (const { failure } of unexpected) {
      note(
        `unexpected failure: '${failure.test}'${failure.file === null ? '' : ` (${failure.file})`}`,
      );
      note(`  ${failure.detail.trim().split('\n').slice(0, 6).join('\n          ')}`);
    }
    if (!ok && parsed.fail !== parsed.failures.length) {
      note(`(${parsed.fail} failed but ${parsed.failures.length} listed; output ends:)`);
      note(output.trim().split('\n').slice(-10).join('\n        '));
    }
  }
  await ipv6Test(source, dataRoot);
}

/** connect.test.js's own 'ipv6' test (amqp://[::1]) against a Weir that listens on ::1. */
async function ipv6Test(source, dataRoot) {
  const part = "amqplib connect.test.js 'ipv6' against weir serve --host ::1";
  const dataDir = path.join(dataRoot, 'ipv6');
  await mkdir(dataDir);
  let server;
  try {
    server = await startedServe(dataDir, ['--host', '::1']);
  } catch (error) {
    report('FAIL', part, error.message);
    return;
  }
  try {
    const suite = startIn(
      [
        process.execPath,
        '--test',
        '--test-reporter=spec',
        '--test-name-pattern=^ipv6$',
        'test/connect.test.js',
      ],
      { cwd: source, name: 'node --test connect.test.js ipv6' },
    );
    const timer = setTimeout(() => suite.child.kill('SIGKILL'), WAIT_MS * 3);
    await suite.exited;
    clearTimeout(timer);
    const parsed = parseNodeTest(suite.stdout() + suite.stderr());
    const ok = parsed.pass === 1 && parsed.fail === 0;
    report(
      ok ? 'PASS' : 'FAIL',
      part,
      ok ? 'amqp://[::1] connects' : `${parsed.pass} pass, ${parsed.fail} fail${tail(suite, 15)}`,
    );
  } finally {
    await server.stop('SIGTERM', SERVE_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Part 3: the tutorials

function tutorialEnvironment(shimDir) {
  // rpc_client.js requires 'uuid' (a dependency of the tutorials' own package.json, not of
  // amqplib, so not installed): NODE_PATH gives it a uuid whose v4 is crypto.randomUUID.
  return cleanEnvironment({ NODE_PATH: shimDir });
}

function tutorial(shimDir, file, args = []) {
  return startIn([process.execPath, file, ...args], {
    cwd: TUTORIALS,
    env: tutorialEnvironment(shimDir),
    name: [file, ...args].join(' '),
  });
}

/** Runs a producer tutorial to its end; rejects if it does not end with code 0 within WAIT_MS. */
async function produce(shimDir, file, args, expect) {
  const producer = tutorial(shimDir, file, args);
  const timer = setTimeout(() => producer.child.kill('SIGKILL'), WAIT_MS);
  const code = await producer.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${producer.name} exited with ${code}${tail(producer)}`);
  if (expect !== undefined && !producer.stdout().includes(expect)) {
    throw new Error(`${producer.name} did not print ${JSON.stringify(expect)}${tail(producer)}`);
  }
  if (producer.stderr().trim() !== '')
    throw new Error(`${producer.name} wrote to stderr${tail(producer)}`);
  return producer;
}

/** SIGINT (the tutorials close their channel and connection on it) and a clean exit. */
async function interrupt(consumers) {
  const problems = [];
  for (const consumer of consumers) {
    if (!consumer.running()) {
      problems.push(`${consumer.name} had exited already${tail(consumer)}`);
      continue;
    }
    const code = await consumer.stop('SIGINT', WAIT_MS);
    if (code !== 0)
      problems.push(
        `${consumer.name} did not exit cleanly after SIGINT (${code})${tail(consumer)}`,
      );
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
}

function received(consumer, pattern) {
  return consumer
    .lines()
    .map((line) => pattern.exec(line))
    .filter((match) => match !== null)
    .map((match) => match[1]);
}

function sameSet(actual, expected) {
  return (
    actual.length === expected.length &&
    [...actual].sort().join('\n') === [...expected].sort().join('\n')
  );
}

async function tutorialPart(name, body) {
  const started = Date.now();
  const consumers = [];
  try {
    const detail = await body(consumers);
    await interrupt(consumers);
    report('PASS', name, `${detail} (${Date.now() - started} ms)`);
  } catch (error) {
    report('FAIL', name, error.message);
    for (const consumer of consumers) if (consumer.running()) consumer.child.kill('SIGKILL');
  }
}

async function tutorials(shimDir) {
  if (!existsSync(path.join(TUTORIALS, 'send.js'))) {
    report(
      'FAIL',
      'tutorials',
      `no ${TUTORIALS}/send.js: npm install (amqplib is a devDependency)`,
    );
    return;
  }
  const tag = Math.random().toString(36).slice(2, 8);

  await tutorialPart('tutorial 1 hello world (send.js / receive.js)', async (consumers) => {
    const receiver = tutorial(shimDir, 'receive.js');
    consumers.push(receiver);
    await receiver.waitFor(/\[\*\] Waiting for messages/);
    await produce(shimDir, 'send.js', [], " [x] Sent 'Hello World!'");
    await receiver.waitFor(/\[x\] Received 'Hello World!'/);
    return "receive.js got 'Hello World!'";
  });

  await tutorialPart('tutorial 2 work queues (new_task.js / worker.js x2)', async (consumers) => {
    const workers = [tutorial(shimDir, 'worker.js'), tutorial(shimDir, 'worker.js')];
    consumers.push(...workers);
    for (const worker of workers) await worker.waitFor(/\[\*\] Waiting for messages/);
    // One dot: the worker "works" for 1 s before it acks, so with prefetch 1 both get some.
    const tasks = Array.from({ length: 6 }, (_, index) => `task-${tag}-${index + 1}.`);
    for (const task of tasks) await produce(shimDir, 'new_task.js', [task], `[x] Sent '${task}'`);
    const got = (worker) => received(worker, /^ \[x\] Received '(.+)'$/);
    const done = (worker) => worker.lines().filter((line) => line === ' [x] Done').length;
    await workers[0].until(
      () => workers.reduce((sum, worker) => sum + done(worker), 0) >= tasks.length,
      `${tasks.length} tasks done`,
      WAIT_MS + tasks.length * 1_000,
    );
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const all = workers.flatMap(got);
    if (!sameSet(all, tasks)) {
      throw new Error(
        `tasks received ${JSON.stringify(all)}, expected each of ${JSON.stringify(tasks)} once`,
      );
    }
    const counts = workers.map((worker) => got(worker).length);
    if (counts.some((count) => count === 0))
      throw new Error(`one worker got no task: ${counts.join(' + ')}`);
    return `${tasks.length} tasks each done once, split ${counts.join(' + ')}`;
  });

  await tutorialPart(
    'tutorial 3 publish/subscribe (emit_log.js / receive_logs.js x2)',
    async (consumers) => {
      const receivers = [
        tutorial(shimDir, 'receive_logs.js'),
        tutorial(shimDir, 'receive_logs.js'),
      ];
      consumers.push(...receivers);
      for (const receiver of receivers) await receiver.waitFor(/\[\*\] Waiting for logs/);
      const text = `info: fanout ${tag}`;
      await produce(shimDir, 'emit_log.js', [text], `[x] Sent '${text}'`);
      for (const receiver of receivers) await receiver.waitFor(new RegExp(`\\[x\\] '${text}'`));
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      for (const receiver of receivers) {
        const got = received(receiver, /^ \[x\] '(.+)'$/);
        if (!sameSet(got, [text])) throw new Error(`a receiver got ${JSON.stringify(got)}`);
      }
      return 'both receivers got the log line once';
    },
  );

  await tutorialPart(
    'tutorial 4 routing (emit_log_direct.js / receive_logs_direct.js)',
    async (consumers) => {
      const bindings = [
        ['warning', 'error'],
        ['info', 'warning', 'error'],
      ];
      const receivers = bindings.map((keys) => tutorial(shimDir, 'receive_logs_direct.js', keys));
      consumers.push(...receivers);
      for (const receiver of receivers) await receiver.waitFor(/\[\*\] Waiting for logs/);
      const sent = ['info', 'warning', 'error'].map(
        (severity) => `${severity}:'direct ${tag} ${severity}'`,
      );
      for (const severity of ['info', 'warning', 'error']) {
        await produce(
          shimDir,
          'emit_log_direct.js',
          [severity, `direct ${tag} ${severity}`],
          `[x] Sent ${severity}:`,
        );
      }
      const expected = bindings.map((keys) =>
        sent.filter((line) => keys.includes(line.split(':')[0])),
      );
      for (const [index, receiver] of receivers.entries()) {
        await receiver.until(
          () => received(receiver, /^ \[x\] (.+)$/).length >= expected[index].length,
          `${expected[index].length} messages`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      for (const [index, receiver] of receivers.entries()) {
        const got = received(receiver, /^ \[x\] (.+)$/);
        if (!sameSet(got, expected[index])) {
          throw new Error(
            `receiver of ${bindings[index].join(' ')} got ${JSON.stringify(got)}, expected ${JSON.stringify(expected[index])}`,
          );
        }
      }
      return 'warning+error receiver got 2, info+warning+error receiver got 3';
    },
  );

  await tutorialPart(
    'tutorial 5 topics (emit_log_topic.js / receive_logs_topic.js)',
    async (consumers) => {
      const patterns = [['kern.*'], ['*.critical'], ['#'], ['auth.#', 'kern.disk.*']];
      const receivers = patterns.map((keys) => tutorial(shimDir, 'receive_logs_topic.js', keys));
      consumers.push(...receivers);
      for (const receiver of receivers) await receiver.waitFor(/\[\*\] Waiting for logs/);
      const keys = [
        'kern.critical',
        'kern.info',
        'auth.critical',
        'kern.disk.error',
        'auth.login.info',
        'cron',
      ];
      for (const key of keys)
        await produce(shimDir, 'emit_log_topic.js', [key, `topic ${tag}`], `[x] Sent ${key}:`);
      const expected = [
        ['kern.critical', 'kern.info'],
        ['kern.critical', 'auth.critical'],
        keys,
        ['auth.critical', 'kern.disk.error', 'auth.login.info'],
      ].map((list) => list.map((key) => `${key}:'topic ${tag}'`));
      for (const [index, receiver] of receivers.entries()) {
        await receiver.until(
          () => received(receiver, /^ \[x\] (.+)$/).length >= expected[index].length,
          `${expected[index].length} messages`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      for (const [index, receiver] of receivers.entries()) {
        const got = received(receiver, /^ \[x\] (.+)$/);
        if (!sameSet(got, expected[index])) {
          throw new Error(
            `receiver of ${patterns[index].join(' ')} got ${JSON.stringify(got)}, expected ${JSON.stringify(expected[index])}`,
          );
        }
      }
      return `patterns ${patterns.map((list) => list.join('+')).join(', ')} each got exactly their keys of ${keys.length}`;
    },
  );

  await tutorialPart('tutorial 6 RPC (rpc_server.js / rpc_client.js)', async (consumers) => {
    const server = tutorial(shimDir, 'rpc_server.js');
    consumers.push(server);
    await server.waitFor(/\[x\] Awaiting RPC requests/);
    const answers = [];
    for (const [n, fib] of [
      [30, 832040],
      [10, 55],
    ]) {
      const client = await produce(shimDir, 'rpc_client.js', [String(n)], ` [.] Got ${fib}\n`);
      answers.push(`fib(${n}) = ${client.stdout().match(/Got (\d+)/)[1]}`);
    }
    await server.waitFor(/\[\.\] fib\(10\)/);
    return answers.join(', ');
  });
}

// ---------------------------------------------------------------------------------------------
// Part 4: amqp-connection-manager across a restart

const PRODUCER = `
import { createRequire } from 'node:module';
const require = createRequire(process.env.TEST_AMQP_ROOT + '/package.json');
const { connect } = require('amqp-connection-manager');
const [queue, totalText, windowText] = process.argv.slice(2);
const total = Number(totalText);
const window = Number(windowText);
const connection = connect(['amqp://localhost'], { reconnectTimeInSeconds: 0.2, heartbeatIntervalInSeconds: 5 });
connection.on('connect', () => console.log('connect'));
connection.on('disconnect', ({ err }) => console.log('disconnect ' + (err?.message ?? '')));
const channel = connection.createChannel({
  confirm: true,
  json: false,
  publishTimeout: 60000,
  setup: (ch) => ch.assertQueue(queue, { durable: true }),
});
// A publish rejected by the client ('channel closed': amqplib fails the confirms still
// outstanding when the connection drops) is published again, as an application does.
const RETRIES = 5;
let next = 0;
let inFlight = 0;
await new Promise((resolve) => {
  const settled = () => {
    inFlight--;
    if (next >= total && inFlight === 0) resolve();
    else setTimeout(pump, 5);
  };
  const publish = (id, attempt) => {
    channel
      .sendToQueue(queue, Buffer.from(String(id)), { persistent: true, messageId: String(id) })
      .then(
        () => {
          console.log('confirmed ' + id);
          settled();
        },
        (error) => {
          if (attempt < RETRIES) {
            console.log('retry ' + id + ' ' + error.message);
            setTimeout(() => publish(id, attempt + 1), 5);
          } else {
            console.log('failed ' + id + ' ' + error.message);
            settled();
          }
        },
      );
  };
  const pump = () => {
    while (inFlight < window && next < total) {
      inFlight++;
      publish(next++, 0);
    }
  };
  pump();
});
console.log('done');
await channel.close();
await connection.close();
`;

const CONSUMER = `
import { createRequire } from 'node:module';
const require = createRequire(process.env.TEST_AMQP_ROOT + '/package.json');
const { connect } = require('amqp-connection-manager');
const [queue, prefetchText] = process.argv.slice(2);
const connection = connect(['amqp://localhost'], { reconnectTimeInSeconds: 0.2, heartbeatIntervalInSeconds: 5 });
connection.on('connect', () => console.log('connect'));
connection.on('disconnect', ({ err }) => console.log('disconnect ' + (err?.message ?? '')));
const channel = connection.createChannel({
  setup: async (ch) => {
    await ch.assertQueue(queue, { durable: true });
    await ch.prefetch(Number(prefetchText));
    await ch.consume(queue, (message) => {
      if (message === null) {
        console.log('cancelled');
        return;
      }
      console.log('consumed ' + message.content.toString() + (message.fields.redelivered ? ' redelivered' : ''));
      ch.ack(message);
    });
  },
});
process.once('SIGINT', async () => {
  await channel.close();
  await connection.close();
});
await channel.waitForConnect();
console.log('ready');
`;

const RECONNECT_MESSAGES = 600;
const RECONNECT_WINDOW = 10;
const RECONNECT_PREFETCH = 20;

async function reconnectRound(clientsDir, serverRef, dataDir, signal) {
  const part = `amqp-connection-manager across a ${signal} restart`;
  const queue = `reconnect-${signal.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`;
  const env = cleanEnvironment({ TEST_AMQP_ROOT: ROOT });
  const started = Date.now();
  const clients = [];
  try {
    const consumer = startIn(
      [process.execPath, path.join(clientsDir, 'consumer.mjs'), queue, String(RECONNECT_PREFETCH)],
      {
        cwd: ROOT,
        env,
        name: 'consumer.mjs',
      },
    );
    clients.push(consumer);
    await consumer.waitFor(/^ready$/m);
    const producer = startIn(
      [
        process.execPath,
        path.join(clientsDir, 'producer.mjs'),
        queue,
        String(RECONNECT_MESSAGES),
        String(RECONNECT_WINDOW),
      ],
      { cwd: ROOT, env, name: 'producer.mjs' },
    );
    clients.push(producer);
    const ids = (handle, word) =>
      handle
        .lines()
        .filter((line) => line.startsWith(`${word} `))
        .map((line) => line.split(' ')[1]);
    await producer.until(
      () => ids(producer, 'confirmed').length >= RECONNECT_MESSAGES / 3,
      `${RECONNECT_MESSAGES / 3} confirms`,
      30_000,
    );
    const confirmedBefore = ids(producer, 'confirmed').length;
    const code = await serverRef.current.stop(signal, SERVE_MS);
    serverRef.current = startServe(dataDir);
    await serverRef.current.waitFor(/"event":"amqp_listening"/, SERVE_MS);
    const restartedAfter = Date.now() - started;
    const producerCode = await Promise.race([
      producer.exited,
      new Promise((resolve) => setTimeout(() => resolve('timeout'), 60_000)),
    ]);
    if (producerCode !== 0)
      throw new Error(`producer.mjs did not finish (${producerCode})${tail(producer)}`);
    const confirmed = new Set(ids(producer, 'confirmed'));
    const failed = ids(producer, 'failed');
    const retries = producer.lines().filter((line) => line.startsWith('retry '));
    const retryReasons = [...new Set(retries.map((line) => line.split(' ').slice(2).join(' ')))];
    const consumedIds = () => new Set(ids(consumer, 'consumed'));
    await consumer
      .until(
        () => {
          const seen = consumedIds();
          return [...confirmed].every((id) => seen.has(id));
        },
        'every confirmed message consumed',
        30_000,
      )
      .catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await consumer.stop('SIGINT', WAIT_MS);
    const counts = new Map();
    for (const id of ids(consumer, 'consumed')) counts.set(id, (counts.get(id) ?? 0) + 1);
    const lost = [...confirmed].filter((id) => !counts.has(id));
    const duplicates = [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
    const duplicated = [...counts].filter(([, count]) => count > 1).map(([id]) => id);
    const extra = [...counts.keys()].filter((id) => !confirmed.has(id));
    const redelivered = consumer.lines().filter((line) => line.endsWith(' redelivered')).length;
    const retriedIds = new Set(retries.map((line) => line.split(' ')[1]));
    const flags = new Map();
    for (const line of consumer.lines().filter((candidate) => candidate.startsWith('consumed '))) {
      const [, id, flag] = line.split(' ');
      flags.set(id, [...(flags.get(id) ?? []), flag === 'redelivered']);
    }
    // A duplicate is explained by the producer's retry (two publishes) or by a redelivery (a
    // copy flagged redelivered); one with neither is a redelivery the broker did not flag.
    const unflagged = duplicated.filter(
      (id) =>
        !retriedIds.has(id) &&
        flags.get(id).filter((flag) => flag).length < flags.get(id).length - 1,
    );
    const copies = (id) =>
      `${id}${retriedIds.has(id) ? ' retried' : ''} [${flags
        .get(id)
        .map((flag) => (flag ? 'redelivered' : 'first'))
        .join(', ')}]`;
    const disconnectReasons = [
      ...new Set(
        [...producer.lines(), ...consumer.lines()]
          .filter((line) => line.startsWith('disconnect'))
          .map((line) => line.slice('disconnect '.length) || '(no error)'),
      ),
    ];
    const reconnects = (handle) =>
      handle.lines().filter((line) => line.startsWith('disconnect')).length;
    const detail =
      `${signal} after ${confirmedBefore} confirms (server exit ${code}, back after ${restartedAfter} ms); ` +
      `${confirmed.size}/${RECONNECT_MESSAGES} confirmed, ${failed.length} failed` +
      (retries.length > 0
        ? ` (${retries.length} publishes retried by the producer after '${retryReasons.join("', '")}')`
        : '') +
      ', ' +
      `${counts.size} distinct consumed, ${lost.length} lost, ${duplicates} duplicates` +
      (duplicates > 0
        ? ` (${redelivered} deliveries flagged redelivered; ids and copies: ` +
          `${duplicated.slice(0, 10).map(copies).join('; ')}${duplicated.length > 10 ? '; …' : ''})`
        : '') +
      (unflagged.length > 0
        ? `, ${unflagged.length} delivered again without the redelivered flag (not a producer retry): ${unflagged.slice(0, 10).join(',')}`
        : '') +
      (extra.length > 0 ? `, ${extra.length} consumed without a confirm` : '') +
      `; disconnects seen: producer ${reconnects(producer)}, consumer ${reconnects(consumer)} ('${disconnectReasons.join("', '")}')`;
    const ok =
      lost.length === 0 &&
      failed.length === 0 &&
      confirmed.size === RECONNECT_MESSAGES &&
      reconnects(producer) > 0 &&
      reconnects(consumer) > 0 &&
      // SIGTERM is a graceful stop: the server exits by itself, it is not killed after SERVE_MS.
      (signal !== 'SIGTERM' || code === 0);
    report(ok ? 'PASS' : 'FAIL', part, detail);
    if (signal === 'SIGTERM' && code !== 0)
      note(`SIGTERM: weir serve did not exit by itself (exit ${code})`);
    if (lost.length > 0)
      note(`lost: ${lost.slice(0, 20).join(',')}${lost.length > 20 ? ',…' : ''}`);
    if (failed.length > 0) {
      note(`first failure: ${producer.lines().find((line) => line.startsWith('failed '))}`);
    }
  } catch (error) {
    report('FAIL', part, error.message);
  } finally {
    for (const client of clients) if (client.running()) client.child.kill('SIGKILL');
  }
}

async function reconnect(dataRoot) {
  const manager = path.join(ROOT, 'node_modules', 'amqp-connection-manager');
  if (!existsSync(manager)) {
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      report(
        'FAIL',
        `amqp-connection-manager across a ${signal} restart`,
        'not installed: npm install (a devDependency)',
      );
    }
    return;
  }
  const clientsDir = path.join(dataRoot, 'clients');
  await mkdir(clientsDir);
  await writeFile(path.join(clientsDir, 'producer.mjs'), PRODUCER);
  await writeFile(path.join(clientsDir, 'consumer.mjs'), CONSUMER);
  const dataDir = path.join(dataRoot, 'reconnect');
  await mkdir(dataDir);
  const serverRef = { current: null };
  try {
    serverRef.current = await startedServe(dataDir);
  } catch (error) {
    report('FAIL', 'amqp-connection-manager: weir serve', error.message);
    return;
  }
  for (const signal of ['SIGTERM', 'SIGKILL']) {
    if (!serverRef.current.running()) {
      try {
        serverRef.current = await startedServe(dataDir);
      } catch (error) {
        report(
          'FAIL',
          `amqp-connection-manager across a ${signal} restart`,
          `weir serve did not start: ${error.message}`,
        );
        return;
      }
    }
    await reconnectRound(clientsDir, serverRef, dataDir, signal);
  }
  await serverRef.current.stop('SIGTERM', SERVE_MS);
}

// ---------------------------------------------------------------------------------------------

function argument(name) {
  const argv = process.argv.slice(2);
  const index = argv.indexOf(name);
  if (index !== -1) return argv[index + 1];
  const inline = argv.find((arg) => arg.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

async function namespaceUnavailable() {
  if (process.getuid?.() !== 0) return 'not root: network namespaces (ip netns) need root';
  try {
    await run('ip', ['-V']);
  } catch {
    return "iproute2's ip is not installed (apt-get install iproute2)";
  }
  const name = `weir-amqp-${process.pid}`;
  try {
    await run('ip', ['netns', 'add', name]);
  } catch (error) {
    return `ip netns add failed: ${error.message}`;
  }
  namespace = name;
  try {
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    return `ip -n ${name} link set lo up failed: ${error.message}`;
  }
  return null;
}

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log('usage: npm run test:amqp -- [--amqplib-source DIR]   (or env AMQPLIB_SOURCE)');
    return 0;
  }
  const parts = [
    'weir serve --amqp in the namespace',
    ...SUITE_FILES.map((file) => `amqplib ${file}`),
    'tutorials',
    'amqp-connection-manager',
  ];
  if (!existsSync(MAIN)) {
    report('FAIL', 'build', `no ${MAIN}: npm run build`);
    return summary();
  }
  const why = await namespaceUnavailable();
  if (why !== null) {
    for (const part of parts) report('SKIPPED', part, why);
    return summary();
  }
  temporary = await mkdtemp(path.join(os.tmpdir(), 'weir-test-amqp-'));
  const dataDir = path.join(temporary, 'data');
  await mkdir(dataDir);
  let server;
  try {
    server = await startedServe(dataDir);
    report(
      'PASS',
      parts[0],
      `namespace ${namespace}, ${server.stderr().match(/"url":"(amqp:[^"]+)"/)?.[1]}`,
    );
  } catch (error) {
    report('FAIL', parts[0], error.message);
    return summary();
  }
  const shimDir = path.join(temporary, 'node_path');
  await mkdir(path.join(shimDir, 'uuid'), { recursive: true });
  await writeFile(
    path.join(shimDir, 'uuid', 'index.js'),
    "module.exports = { v4: () => require('node:crypto').randomUUID() };\n",
  );

  await amqplibTests(temporary);
  await tutorials(shimDir);
  const code = await server.stop('SIGTERM', SERVE_MS);
  if (code !== 0) report('FAIL', 'weir serve stops on SIGTERM', `exit ${code}${tail(server)}`);
  await reconnect(temporary);
  return summary();
}

let code = 1;
try {
  code = await main();
} catch (error) {
  report('FAIL', 'run', error.stack ?? String(error));
  code = summary();
} finally {
  clearTimeout(deadline);
  await finish(code);
}
