// The JavaScript / TypeScript REPL behind interview_kernel's Node adapter: one persistent vm context.
//
// argv: <command fd> <event fd> <javascript|typescript> [<typescript package dir>]
// Commands arrive framed as "<op>\t<arg>\t<byte length>\n<payload>"; events leave as JSON lines.
// A cell's stdin is the FIFO named in its exec command: process.stdin, fs.readFileSync(0) and
// fs.readSync(0) inside the cell read it synchronously, which the kernel sees as a blocked read and
// answers with an input_request.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const vm = require('vm');
const Module = require('module');
const { Readable } = require('stream');

const [cmdFd, evtFd] = [Number(process.argv[2]), Number(process.argv[3])];
const language = process.argv[4];
const tsDir = process.argv[5];
const FILE = 'cell';

let ts = null;
if (tsDir) {
  try {
    ts = require(tsDir);
  } catch (err) {
    if (language === 'typescript') {
      process.stderr.write(`cannot load typescript from ${tsDir}: ${err.message}\n`);
      process.exit(3);
    }
  }
}

function send(event) {
  fs.writeSync(evtFd, JSON.stringify(event) + '\n');
}

// ---- stdin ----------------------------------------------------------------------------------------------
class CellStdin {
  constructor(fifo) {
    this.fifo = fifo;
    this.fd = null;
    this.eof = false;
  }
  readChunk() {
    if (this.eof || !this.fifo) return null;
    if (this.fd === null) this.fd = fs.openSync(this.fifo, 'r');
    const buf = Buffer.alloc(65536);
    let n = 0;
    try {
      n = fs.readSync(this.fd, buf, 0, buf.length, null);
    } catch (err) {
      if (err.code !== 'EAGAIN' && err.code !== 'EINTR') throw err;
    }
    if (n === 0) {
      this.eof = true;
      return null;
    }
    return buf.subarray(0, n);
  }
  readAll() {
    const chunks = [];
    for (let c = this.readChunk(); c !== null; c = this.readChunk()) chunks.push(c);
    return Buffer.concat(chunks);
  }
  close() {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    this.eof = true;
  }
}

let stdin = new CellStdin(null);

// process.stdin for the cell: reads only while something listens, so a readline closed after the
// lines it needed leaves no read pending (which would ask the user for a line nobody wants).
class StdinStream extends Readable {
  constructor() {
    super();
    this.fd = 0;
    this.isTTY = false;
    this.wanted = false;
    this.on('resume', () => this.wanted && this._pull());
  }
  _read() {
    this.wanted = true;
    setImmediate(() => this._pull());
  }
  _pull() {
    if (!this.wanted || this.destroyed || this.readableFlowing === false) return;
    if (this.readableFlowing === null && this.listenerCount('readable') === 0) return;
    this.wanted = false;
    const chunk = stdin.readChunk();
    this.push(chunk);
  }
  setRawMode() {
    return this;
  }
}

let stdinStream = null;

// ---- the context ----------------------------------------------------------------------------------------
class ExitSignal extends Error {
  constructor(code) {
    super(`process.exit(${code})`);
    this.code = code;
  }
}

const timers = new Set();
function tracked(create, clear) {
  return (...args) => {
    const handle = create(...args);
    timers.add([handle, clear]);
    return handle;
  };
}

const cellFs = Object.assign({}, fs, {
  readFileSync(file, options) {
    if (file === 0 || file === '/dev/stdin') {
      const data = stdin.readAll();
      const encoding = typeof options === 'string' ? options : options && options.encoding;
      return encoding ? data.toString(encoding) : data;
    }
    return fs.readFileSync(file, options);
  },
  readSync(fd, buffer, ...rest) {
    if (fd === 0) {
      const chunk = stdin.readChunk();
      if (chunk === null) return 0;
      const offset = typeof rest[0] === 'number' ? rest[0] : (rest[0] && rest[0].offset) || 0;
      return chunk.copy(buffer, offset);
    }
    return fs.readSync(fd, buffer, ...rest);
  },
});

const baseRequire = Module.createRequire(path.join(process.cwd(), FILE));
function cellRequire(name) {
  if (name === 'fs' || name === 'node:fs') return cellFs;
  return baseRequire(name);
}
cellRequire.resolve = baseRequire.resolve;

const cellProcess = Object.create(process, {
  stdin: {
    get() {
      if (stdinStream === null) stdinStream = new StdinStream();
      return stdinStream;
    },
  },
  exit: {
    value: (code) => {
      throw new ExitSignal(code === undefined ? 0 : code);
    },
  },
  argv: { value: ['node', FILE] },
});

const sandbox = {
  console: new console.Console({ stdout: process.stdout, stderr: process.stderr }),
  require: cellRequire,
  process: cellProcess,
  Buffer,
  URL,
  URLSearchParams,
  TextEncoder,
  TextDecoder,
  AbortController,
  queueMicrotask,
  structuredClone,
  atob,
  btoa,
  performance,
  setTimeout: tracked(setTimeout, clearTimeout),
  setInterval: tracked(setInterval, clearInterval),
  setImmediate: tracked(setImmediate, clearImmediate),
  clearTimeout,
  clearInterval,
  clearImmediate,
  __dirname: process.cwd(),
  __filename: path.join(process.cwd(), FILE),
};
const context = vm.createContext(sandbox, { name: 'interview' });
vm.runInContext('globalThis.global = globalThis;', context);

// ---- compiling a cell -----------------------------------------------------------------------------------
// Top-level let/const/class become var, so that running a cell again does not fail with "already declared"
// (as a browser console allows). A cell with a top-level await runs inside an async function instead, its
// top-level names declared outside it with var. Edits keep every line where it was.
function rewriteTopLevel(code, scriptKind) {
  if (!ts || !/\b(let|const|class|await)\b/.test(code)) return code;
  const sf = ts.createSourceFile('cell', code, ts.ScriptTarget.Latest, true, scriptKind);
  const wrap = hasTopLevelAwait(sf);
  const names = [];
  const edits = wrap ? asyncEdits(sf, code, names) : redeclarableEdits(sf, code);
  let out = code;
  for (const [start, end, text] of edits.sort((a, b) => b[0] - a[0] || b[1] - a[1])) {
    out = out.slice(0, start) + text + out.slice(end);
  }
  if (!wrap) return out;
  const head = names.length ? `var ${[...new Set(names)].join(', ')}; ` : '';
  return `${head}(async () => { ${out}\n})()`;
}

function redeclarableEdits(sf, code) {
  const edits = [];
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st) && !st.modifiers && st.declarationList.flags & ts.NodeFlags.BlockScoped) {
      const start = st.declarationList.getStart(sf);
      const keyword = code.startsWith('const', start) ? 'const' : 'let';
      edits.push([start, start + keyword.length, keyword === 'const' ? 'var  ' : 'var']);
    } else if (ts.isClassDeclaration(st) && st.name && !st.modifiers) {
      edits.push([st.getStart(sf), st.getStart(sf), `var ${st.name.text} = `]);
      edits.push([st.end, st.end, ';']);
    }
  }
  return edits;
}

function hasTopLevelAwait(sf) {
  let found = false;
  const visit = (node) => {
    if (found || ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) found = true;
    else ts.forEachChild(node, visit);
  };
  ts.forEachChild(sf, visit);
  return found;
}

function bindingNames(name, names) {
  if (ts.isIdentifier(name)) names.push(name.text);
  else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bindingNames(element.name, names);
}

function asyncEdits(sf, code, names) {
  const edits = [];
  const statements = sf.statements;
  statements.forEach((st, i) => {
    if (ts.isVariableStatement(st)) {
      const list = st.declarationList;
      const start = list.getStart(sf);
      const keyword = ['const', 'let', 'var'].find((k) => code.startsWith(k, start));
      for (const d of list.declarations) bindingNames(d.name, names);
      edits.push([start, start + keyword.length, '(' + ' '.repeat(keyword.length - 1)]);
      edits.push([list.end, list.end, ')']);
    } else if ((ts.isClassDeclaration(st) || ts.isFunctionDeclaration(st)) && st.name) {
      names.push(st.name.text);
      edits.push([st.getStart(sf), st.getStart(sf), `${st.name.text} = `]);
      edits.push([st.end, st.end, ';']);
    } else if (i === statements.length - 1 && ts.isExpressionStatement(st)) {
      edits.push([st.expression.getStart(sf), st.expression.getStart(sf), 'return (']);
      edits.push([st.expression.end, st.expression.end, ')']);
    }
  });
  return edits;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Generated line (0-based) -> [[generated column, original line, original column], ...] from a source map.
function decodeMappings(mappings) {
  const lines = [];
  let srcLine = 0;
  let srcCol = 0;
  for (const lineText of mappings.split(';')) {
    const segments = [];
    let genCol = 0;
    for (const seg of lineText.split(',')) {
      if (!seg) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += values[0];
      if (values.length >= 4) {
        srcLine += values[2];
        srcCol += values[3];
        segments.push([genCol, srcLine, srcCol]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

function compile(code) {
  if (language !== 'typescript') return { js: rewriteTopLevel(code, ts && ts.ScriptKind.JS), map: null };
  const out = ts.transpileModule(code, {
    fileName: 'cell.ts',
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      esModuleInterop: true,
      sourceMap: true,
      inlineSources: false,
    },
  });
  const errors = (out.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    const d = errors[0];
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const err = new SyntaxError(message);
    const source = code.split('\n')[line] || '';
    err.trace = [`${FILE}:${line + 1}:${character + 1}: error TS${d.code}: ${message}`, source, ' '.repeat(character) + '^'];
    throw err;
  }
  const js = out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  return { js: rewriteTopLevel(js, ts.ScriptKind.JS), map: decodeMappings(JSON.parse(out.sourceMapText).mappings) };
}

function originalPosition(map, line, column) {
  if (!map) return [line, column];
  const segments = map[line - 1];
  if (!segments || !segments.length) return [line, column];
  let best = segments[0];
  for (const seg of segments) if (seg[0] <= column - 1) best = seg;
  return [best[1] + 1, best[2] + 1];
}

// ---- errors and results ---------------------------------------------------------------------------------
function describe(err, map, lines) {
  if (err === null || typeof err !== 'object') {
    return { ename: 'Uncaught', evalue: util.inspect(err), traceback: [`Uncaught ${util.inspect(err)}`] };
  }
  const ename = (err.constructor && err.constructor.name) || err.name || 'Error';
  const evalue = err.message === undefined ? util.inspect(err) : String(err.message);
  if (err.trace) return { ename, evalue, traceback: [`${ename}: ${evalue}`, ...err.trace] };
  const frames = [];
  const stack = typeof err.stack === 'string' ? err.stack : '';
  for (const line of stack.split('\n')) {
    const m = line.match(/^\s+at (?:(.*) \()?cell:(\d+):(\d+)\)?$/);
    if (!m) continue;
    const [l, c] = originalPosition(map, Number(m[2]), Number(m[3]));
    if (l > lines) continue; // the async wrapper's closing line
    frames.push(`  at ${m[1] ? m[1] + ' ' : ''}(${FILE}:${l}:${c})`);
  }
  // A syntax error has no frames: Node puts the line and a caret at the top of its stack instead.
  const pointer = stack.match(/^cell:(\d+)\n([^\n]*)\n( *\^*)/);
  if (!frames.length && pointer) frames.push(`  at ${FILE}:${pointer[1]}`, `    ${pointer[2]}`, `    ${pointer[3]}`);
  return { ename, evalue, traceback: [`${ename}: ${evalue}`, ...frames] };
}

function show(value) {
  return { 'text/plain': util.inspect(value, { depth: 4, colors: false, maxArrayLength: 200 }) };
}

// ---- running a cell -------------------------------------------------------------------------------------
let baseline = {};
function countResources() {
  const counts = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] || 0) + 1;
  return counts;
}
function busy() {
  if (stdinStream && stdinStream.wanted && stdinStream.readableFlowing !== false) return true;
  const now = countResources();
  return Object.keys(now).some((kind) => now[kind] > (baseline[kind] || 0));
}

let current = null;

process.on('uncaughtException', (err) => {
  if (current && !current.error) current.error = err;
  else if (!current) process.stderr.write(`Uncaught ${util.inspect(err)}\n`);
});
process.on('unhandledRejection', (err) => {
  if (current && !current.error) current.error = err;
  else if (!current) process.stderr.write(`Unhandled rejection ${util.inspect(err)}\n`);
});
process.on('SIGINT', () => {
  if (current) current.interrupted = true;
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

async function execute(fifo, code) {
  stdin = new CellStdin(fifo);
  stdinStream = null;
  const cell = { error: null, interrupted: false, map: null };
  current = cell;
  let value;
  try {
    const compiled = compile(code);
    cell.map = compiled.map;
    sandbox.exports = {};
    sandbox.module = { exports: sandbox.exports };
    const script = new vm.Script(compiled.js, { filename: FILE });
    value = script.runInContext(context, { breakOnSigint: true, displayErrors: true });
    if (value && typeof value.then === 'function') value = await value;
    // Callbacks the cell scheduled (timers, stdin listeners) belong to it: wait until none is left.
    do await tick();
    while (!cell.error && !cell.interrupted && busy());
  } catch (err) {
    if (err && err.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') cell.interrupted = true;
    else if (!cell.error) cell.error = err;
  }
  if (cell.interrupted || cell.error) {
    for (const [handle, clear] of timers) clear(handle);
  }
  timers.clear();
  stdin.close();
  current = null;
  if (cell.error instanceof ExitSignal) {
    if (cell.error.code !== 0) send({ ev: 'error', ename: 'ExitStatus', evalue: cell.error.message, traceback: [] });
  } else if (cell.interrupted) {
    send({ ev: 'error', ename: 'KeyboardInterrupt', evalue: 'interrupted by the user', traceback: [] });
  } else if (cell.error) {
    send({ ev: 'error', ...describe(cell.error, cell.map, code.split('\n').length) });
  } else if (value !== undefined && !/;\s*(\/\/[^\n]*\s*)*$/.test(code)) {
    // As in IPython, a cell ending with ";" shows no value.
    send({ ev: 'result', data: show(value) });
  }
  send({ ev: 'done' });
}

function complete(code, cursor) {
  const before = code.slice(0, cursor);
  const m = before.match(/((?:[A-Za-z_$][\w$]*\.)*)([A-Za-z_$][\w$]*)?$/);
  const chain = m && m[1] ? m[1].slice(0, -1) : '';
  const prefix = (m && m[2]) || '';
  let names = [];
  try {
    let target = context;
    if (chain) target = vm.runInContext(chain, context, { timeout: 100 });
    for (let o = target; o !== null && o !== undefined; o = Object.getPrototypeOf(o)) {
      names.push(...Object.getOwnPropertyNames(o));
    }
    if (!chain) names.push(...Object.getOwnPropertyNames(vm.runInContext('globalThis', context)));
  } catch {
    names = [];
  }
  const matches = [...new Set(names)].filter((n) => n.startsWith(prefix) && /^[A-Za-z_$][\w$]*$/.test(n)).sort();
  send({ ev: 'completions', matches, start: cursor - prefix.length, end: cursor });
}

// ---- the command loop -----------------------------------------------------------------------------------
let pending = Buffer.alloc(0);
let queue = Promise.resolve();
const input = new net.Socket({ fd: cmdFd, readable: true, writable: false });
input.on('data', (data) => {
  pending = Buffer.concat([pending, data]);
  for (;;) {
    const nl = pending.indexOf(10);
    if (nl < 0) return;
    const [op, arg, size] = pending.subarray(0, nl).toString().split('\t');
    const length = Number(size);
    if (pending.length < nl + 1 + length) return;
    const payload = pending.subarray(nl + 1, nl + 1 + length).toString();
    pending = pending.subarray(nl + 1 + length);
    if (op === 'exec') queue = queue.then(() => execute(arg, payload));
    else if (op === 'complete') queue = queue.then(() => complete(payload, Number(arg)));
  }
});
input.on('end', () => process.exit(0));

if (ts) compile('const warm: number = 1;');
baseline = countResources();
send({ ev: 'ready', node: process.versions.node, typescript: ts ? ts.version : null });
