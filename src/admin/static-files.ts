/**
 * The console's files (ui/): loaded into memory when the admin server starts (at most
 * ADMIN_UI_FILES_MAX files and ADMIN_UI_BYTES_MAX bytes) and served from there with an ETag.
 * Only the files found at start are served: a request path never reaches the file system, so
 * `..` and symlinks cannot lead out of ui/. No CDN, nothing fetched from elsewhere: the
 * Content-Security-Policy says so to the browser as well.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_UI_BYTES_MAX, ADMIN_UI_FILES_MAX } from '../limits.js';
import { WeirError } from '../util/index.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

interface StaticFile {
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/**
 * The ui/ directory of this package: found by walking up from this module (src/admin in a
 * checkout, dist/src/admin once compiled) to the first directory holding ui/index.html.
 */
export function defaultUiDirectory(): string | null {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 5; level++) {
    const candidate = path.join(directory, 'ui');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    directory = path.dirname(directory);
  }
  return null;
}

export class StaticFiles {
  readonly #files: ReadonlyMap<string, StaticFile>;

  private constructor(files: ReadonlyMap<string, StaticFile>) {
    this.#files = files;
  }

  static async load(directory: string | null): Promise<StaticFiles> {
    const files = new Map<string, StaticFile>();
    if (directory === null) return new StaticFiles(files);
    let bytes = 0;
    const walk = async (relative: string): Promise<void> => {
      const entries = await readdir(path.join(directory, relative), { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
        if (entry.isDirectory()) {
          await walk(child);
          continue;
        }
        const contentType = CONTENT_TYPES[path.extname(entry.name).toLowerCase()];
        if (!entry.isFile() || contentType === undefined) continue;
        const size = (await stat(path.join(directory, child))).size;
        if (files.size >= ADMIN_UI_FILES_MAX || bytes + size > ADMIN_UI_BYTES_MAX) {
          throw new WeirError(
            'LIMIT_EXCEEDED',
            `the console in ${directory} is over ${ADMIN_UI_FILES_MAX} files or ${ADMIN_UI_BYTES_MAX} bytes`,
          );
        }
        const content = await readFile(path.join(directory, child));
        bytes += content.length;
        const etag = `"${createHash('sha1').update(content).digest('base64url')}"`;
        files.set(`/${child}`, { bytes: content, contentType, etag });
      }
    };
    await walk('');
    return new StaticFiles(files);
  }

  get available(): boolean {
    return this.#files.has('/index.html');
  }

  /** Serves the file for `pathname`; false when there is none. */
  serve(request: IncomingMessage, response: ServerResponse, pathname: string): boolean {
    const file = this.#files.get(pathname === '/' ? '/index.html' : pathname);
    if (!file) return false;
    const headers = {
      'content-type': file.contentType,
      etag: file.etag,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': CONTENT_SECURITY_POLICY,
    };
    if (request.headers['if-none-match'] === file.etag) {
      response.writeHead(304, headers);
      response.end();
      return true;
    }
    response.writeHead(200, { ...headers, 'content-length': file.bytes.length });
    response.end(request.method === 'HEAD' ? undefined : file.bytes);
    return true;
  }
}
