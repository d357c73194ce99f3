// Fails when the TypeScript files under a directory import each other in a circle (STYLE.md:
// "a check for circular imports runs with the tests", as BullMQ runs madge). A cycle makes
// module evaluation order depend on which file is imported first, so a `const` read across it
// can be undefined at start-up; layers (DESIGN.md) only stay layers without them.
//
// Usage: node scripts/check-cycles.mjs DIRECTORY
//
// What counts as an edge: a static, relative `import ... from './x.js'`, a side-effect
// `import './x.js'` and `export ... from './x.js'`. `import type` and `export type` are left
// out because TypeScript erases them: they cannot order evaluation. (`import { type A } from`
// still counts: with verbatimModuleSyntax it stays a runtime import.) Dynamic `import()` is
// left out too: it runs after every module has loaded. No dependencies: a small scanner strips
// comments (so the API sketches in header comments are not read as imports), then regular
// expressions read the import statements.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';

const EXIT_CYCLES_FOUND = 1;
const EXIT_USAGE = 2;

function listTypeScriptFiles(directory) {
  const files = [];
  for (const name of readdirSync(directory)) {
    const full = join(directory, name);
    if (statSync(full).isDirectory()) {
      if (name !== 'node_modules') files.push(...listTypeScriptFiles(full));
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      files.push(resolve(full));
    }
  }
  return files;
}

// A `/` starts a regular expression literal (not a division) after these characters; this is
// enough to keep `/['"]/` from being read as the start of a string.
const REGEX_MAY_FOLLOW = new Set('(,=:[!&|?{};+-*%<>~^'.split(''));
const KEYWORDS_BEFORE_REGEX = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|void|yield|await)$/;

/**
 * Two copies of the source, both the same length as it: `text` has comments blanked out,
 * `code` also has the contents of strings, templates and regular expressions blanked, so that
 * a statement is only looked for in code while its specifier is read back from `text`.
 */
function blankCommentsAndStrings(source) {
  let output = '';
  let code = '';
  let index = 0;
  let lastSignificant = '';
  let braceDepth = 0;
  // For each open `${` of a template literal, the brace depth at which its `}` closes it.
  const templateDepths = [];

  /** Copies a quoted string from `index` (at its first character, past the opening quote). */
  const copyQuotedBody = (quote) => {
    const start = index;
    while (index < source.length && source[index] !== quote) {
      if (source[index] === '\\') {
        index += 2;
        continue;
      }
      if (quote === '`' && source[index] === '$' && source[index + 1] === '{') {
        // The expression inside `${...}` is ordinary code until its closing brace.
        index += 2;
        templateDepths.push(braceDepth);
        braceDepth++;
        output += source.slice(start, index);
        code += blank(source.slice(start, index - 2)) + '${';
        return;
      }
      index++;
    }
    index++; // the closing quote
    output += source.slice(start, index);
    code += blank(source.slice(start, index - 1)) + source.slice(index - 1, index);
  };

  while (index < source.length) {
    const character = source[index];
    const next = source[index + 1];
    if (character === '/' && next === '/') {
      const start = index;
      while (index < source.length && source[index] !== '\n') index++;
      output += blank(source.slice(start, index));
      code += blank(source.slice(start, index));
    } else if (character === '/' && next === '*') {
      const end = source.indexOf('*/', index + 2);
      const stop = end === -1 ? source.length : end + 2;
      output += blank(source.slice(index, stop));
      code += blank(source.slice(index, stop));
      index = stop;
    } else if (character === '"' || character === "'" || character === '`') {
      output += character;
      code += character;
      index++;
      copyQuotedBody(character);
      lastSignificant = character;
    } else if (
      character === '/' &&
      (lastSignificant === '' ||
        REGEX_MAY_FOLLOW.has(lastSignificant) ||
        KEYWORDS_BEFORE_REGEX.test(output.trimEnd()))
    ) {
      const start = index;
      index++;
      let inClass = false;
      while (index < source.length && source[index] !== '\n') {
        if (source[index] === '\\') index++;
        else if (source[index] === '[') inClass = true;
        else if (source[index] === ']') inClass = false;
        else if (source[index] === '/' && !inClass) break;
        index++;
      }
      index++;
      output += source.slice(start, index);
      code += blank(source.slice(start, index));
      lastSignificant = '/';
    } else if (character === '}' && templateDepths.at(-1) === braceDepth - 1) {
      // This brace closes a `${`: back inside the template literal.
      templateDepths.pop();
      braceDepth--;
      output += character;
      code += character;
      index++;
      copyQuotedBody('`');
      lastSignificant = '`';
    } else {
      if (character === '{') braceDepth++;
      if (character === '}') braceDepth--;
      if (!/\s/.test(character)) lastSignificant = character;
      output += character;
      code += character;
      index++;
    }
  }
  return { text: output, code };
}

/** Spaces in place of every character but newlines, so positions stay the same. */
function blank(text) {
  return text.replace(/[^\n]/g, ' ');
}

// In `code` a string's contents are blank, so the specifier is only its quotes here; one
// capture group each, read back from `text` by position.
const SPECIFIER = String.raw`['"]([^'"\n]*)['"]`;
const NAMED = String.raw`\{[^}]*\}`;
const IDENTIFIER = String.raw`[\w$]+`;
const NAMESPACE = String.raw`\*\s*as\s+${IDENTIFIER}`;
const IMPORT_CLAUSE = String.raw`(?:${NAMED}|${NAMESPACE}|${IDENTIFIER}(?:\s*,\s*(?:${NAMED}|${NAMESPACE}))?)`;
const EXPORT_CLAUSE = String.raw`(?:${NAMED}|\*(?:\s*as\s+${IDENTIFIER})?)`;
// `import type X from` would also match IMPORT_CLAUSE with X = "type", so the type-only form is
// tried first and marked by its group.
const STATEMENTS = new RegExp(
  [
    String.raw`\bimport\s+(type\s+)?${IMPORT_CLAUSE}\s*from\s*${SPECIFIER}`,
    String.raw`\bexport\s+(type\s+)?${EXPORT_CLAUSE}\s*from\s*${SPECIFIER}`,
    String.raw`\bimport\s*${SPECIFIER}`,
  ].join('|'),
  'gd',
);

/** Relative specifiers a file imports at run time. */
function runtimeImports(source) {
  const { text, code } = blankCommentsAndStrings(source);
  const specifiers = [];
  // Group numbers in STATEMENTS: import (type 1, specifier 2), export (type 3, specifier 4),
  // side-effect import (specifier 5).
  const SPECIFIER_GROUPS = [2, 4, 5];
  const TYPE_GROUPS = [1, 3, undefined];
  for (const match of code.matchAll(STATEMENTS)) {
    SPECIFIER_GROUPS.forEach((group, statement) => {
      if (match[group] === undefined) return;
      const typeGroup = TYPE_GROUPS[statement];
      if (typeGroup !== undefined && match[typeGroup] !== undefined) return;
      const [start, end] = match.indices[group];
      const specifier = text.slice(start, end);
      if (specifier.startsWith('./') || specifier.startsWith('../')) specifiers.push(specifier);
    });
  }
  return specifiers;
}

/** The .ts file a relative specifier names (`./x.js` is compiled from `./x.ts`), or null. */
function resolveSpecifier(fromFile, specifier) {
  const target = resolve(dirname(fromFile), specifier);
  const candidates = [
    target.replace(/\.js$/, '.ts'),
    target.replace(/\.mjs$/, '.mts'),
    target,
    `${target}.ts`,
    join(target, 'index.ts'),
  ];
  return (
    candidates.find(
      (candidate) =>
        candidate.endsWith('ts') && existsSync(candidate) && statSync(candidate).isFile(),
    ) ?? null
  );
}

/** Tarjan's strongly connected components; iterative so deep import chains cannot overflow. */
function stronglyConnectedComponents(graph) {
  let nextIndex = 0;
  const indexOf = new Map();
  const lowLink = new Map();
  const onStack = new Set();
  const stack = [];
  const components = [];
  for (const root of graph.keys()) {
    if (indexOf.has(root)) continue;
    const work = [{ node: root, edges: [...graph.get(root)], edgeIndex: 0 }];
    indexOf.set(root, nextIndex);
    lowLink.set(root, nextIndex);
    nextIndex++;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work.at(-1);
      if (frame.edgeIndex < frame.edges.length) {
        const target = frame.edges[frame.edgeIndex++];
        if (!indexOf.has(target)) {
          indexOf.set(target, nextIndex);
          lowLink.set(target, nextIndex);
          nextIndex++;
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, edges: [...graph.get(target)], edgeIndex: 0 });
        } else if (onStack.has(target)) {
          lowLink.set(frame.node, Math.min(lowLink.get(frame.node), indexOf.get(target)));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work.at(-1).node;
        lowLink.set(parent, Math.min(lowLink.get(parent), lowLink.get(frame.node)));
      }
      if (lowLink.get(frame.node) === indexOf.get(frame.node)) {
        const component = [];
        let member;
        do {
          member = stack.pop();
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}

/** One concrete cycle through `start` inside a component, by breadth-first search. */
function cycleThrough(graph, component, start) {
  const members = new Set(component);
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const target of graph.get(node)) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [node];
        while (previous.get(path[0]) !== null) path.unshift(previous.get(path[0]));
        return [...path, start];
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}

function main() {
  const directory = process.argv[2];
  if (directory === undefined || !existsSync(directory) || !statSync(directory).isDirectory()) {
    console.error('usage: node scripts/check-cycles.mjs DIRECTORY');
    process.exit(EXIT_USAGE);
  }
  const files = listTypeScriptFiles(directory).sort();
  const graph = new Map();
  const unresolved = [];
  for (const file of files) {
    const targets = new Set();
    for (const specifier of runtimeImports(readFileSync(file, 'utf8'))) {
      const target = resolveSpecifier(file, specifier);
      if (target === null) unresolved.push(`${relative('.', file)}: '${specifier}'`);
      else if (graph.has(target) || files.includes(target)) targets.add(target);
    }
    graph.set(file, targets);
  }
  for (const line of unresolved) {
    // The compiler reports missing files; here they only mean an edge we cannot follow.
    console.error(`warning: cannot resolve ${line}`);
  }
  const cycles = stronglyConnectedComponents(graph)
    .filter((component) => component.length > 1 || graph.get(component[0]).has(component[0]))
    .map((component) => {
      const start = [...component].sort()[0];
      return cycleThrough(graph, component, start).map((file) => relative('.', file));
    });
  if (cycles.length > 0) {
    console.error(`${cycles.length} circular import${cycles.length === 1 ? '' : 's'}:`);
    for (const cycle of cycles) console.error(`  ${cycle.join(' -> ')}`);
    process.exit(EXIT_CYCLES_FOUND);
  }
  console.log(`no circular imports among ${files.length} files`);
}

main();
