// The participant app's own pieces (src/app): MathJax only for math, no subscription to the
// server's events, the settings validator that compiles schemas only when needed. The app itself (JupyterLab with its plugins) runs in the Chromium tests.
import { describe, expect, it, jest } from '@jest/globals';

import type { ILatexTypesetter } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import Ajv from 'ajv';

import { NoServerEvents } from '../src/app/events';
import { mayHaveMath, onlyWithMath } from '../src/app/mathjax';
import { LazySchemaValidator, schemaDefaults } from '../src/app/validator';

// Node's modules, for reading the installed packages' schemas (the tests are typed without Node's).
declare const require: (name: string) => any;
declare const __dirname: string;
const fs = require('fs');
const path = require('path');

const element = (text: string): HTMLElement => ({ textContent: text }) as HTMLElement;

describe('onlyWithMath', () => {
  it('tells math from text', () => {
    for (const math of ['$x^2$', 'cost $$O(n)$$', '\\(a+b\\)', '\\[x\\]', '\\begin{align}x\\end{align}']) {
      expect(mayHaveMath(element(math))).toBe(true);
    }
    for (const text of ['# Two sum', 'Find two numbers that add up to a target.', '', 'a \\ b']) {
      expect(mayHaveMath(element(text))).toBe(false);
    }
  });

  it('calls the typesetter for math only', async () => {
    const typeset: HTMLElement[] = [];
    const lazy = onlyWithMath({ typeset: async node => void typeset.push(node) } as ILatexTypesetter);
    const plain = element('# Two sum');
    const formula = element('in $O(n \\log n)$');
    expect(lazy.typeset(plain)).toBeUndefined();
    await lazy.typeset(formula);
    expect(typeset).toEqual([formula]);
  });
});

describe('NoServerEvents', () => {
  it('never subscribes, refuses to emit and stops its stream when disposed', async () => {
    const events = new NoServerEvents(ServerConnection.makeSettings({ baseUrl: 'http://127.0.0.1:1/' }));
    const received: unknown[] = [];
    events.stream.connect((_, emission) => void received.push(emission));
    await expect(
      events.emit({ schema_id: 'https://events.jupyter.org/test', version: '1', data: {} })
    ).rejects.toThrow(/does not emit server events \(https:\/\/events\.jupyter\.org\/test\)/);
    expect(received).toEqual([]);
    events.dispose();
    expect(events.isDisposed).toBe(true);
    events.dispose(); // twice is harmless
  });
});

describe('LazySchemaValidator', () => {
  const schema = {
    type: 'object',
    properties: {
      theme: { type: 'string', enum: ['light', 'dark'], default: 'light' },
      fontSize: { type: 'number', minimum: 6, default: 13 },
      editor: { type: 'object', properties: { lineNumbers: { type: 'boolean', default: false } }, default: {} }
    },
    additionalProperties: false
  } as unknown as ISettingRegistry.ISchema;
  const plugin = (raw: string, s = schema, id = 'test:plugin'): ISettingRegistry.IPlugin => ({
    id,
    raw,
    schema: s,
    version: '1',
    data: { composite: {}, user: {} }
  });

  it("fills the composite with the schema's defaults and keeps the user's settings apart", () => {
    const validator = new LazySchemaValidator();
    const p = plugin('{ // a comment, as JSON5 allows\n "fontSize": 16 }');
    expect(validator.validateData(p)).toBeNull();
    expect(p.data.user).toEqual({ fontSize: 16 });
    expect(p.data.composite).toEqual({ theme: 'light', fontSize: 16, editor: { lineNumbers: false } });
  });

  it('rejects what the schema does not allow, as JupyterLab does, and populates nothing then', () => {
    const validator = new LazySchemaValidator();
    const cases: [string, string, string][] = [
      ['{"theme": "blue"}', '/theme', 'enum'],
      ['{"fontSize": 2}', '/fontSize', 'minimum'],
      ['{"other": 1}', '', 'additionalProperties'],
      ['{"editor": {"lineNumbers": "yes"}}', '/editor/lineNumbers', 'type']
    ];
    for (const [raw, instancePath, keyword] of cases) {
      const p = plugin(raw);
      const errors = validator.validateData(p);
      expect(errors?.map(e => [e.instancePath, e.keyword])).toEqual([[instancePath, keyword]]);
      expect(p.data).toEqual({ composite: {}, user: {} });
    }
    expect(validator.validateData(plugin('{"theme": "dark"}'))).toBeNull();
  });

  it('does not populate when asked not to, and compiles a schema once', () => {
    const validator = new LazySchemaValidator();
    const p = plugin('{"fontSize": 20}');
    expect(validator.validateData(p, false)).toBeNull();
    expect(p.data).toEqual({ composite: {}, user: {} });
    const compiled = jest.spyOn(Ajv.prototype, 'compile');
    expect(validator.validateData(plugin('{"fontSize": 30}'))).toBeNull();
    expect(compiled).not.toHaveBeenCalled();
    compiled.mockRestore();
  });

  it('fills in the defaults of empty settings without Ajv', () => {
    const validator = new LazySchemaValidator();
    const used = jest.spyOn(Ajv.prototype, 'getSchema');
    const p = plugin('{}');
    expect(validator.validateData(p)).toBeNull();
    expect(p.data).toEqual({ composite: { theme: 'light', fontSize: 13, editor: { lineNumbers: false } }, user: {} });
    expect(used).not.toHaveBeenCalled();
    // What it does not model goes to Ajv: here `if`, and a `$ref` to another document.
    const conditional = {
      type: 'object',
      properties: { a: { type: 'number', default: 1 } },
      if: { properties: { a: { const: 1 } } },
      then: { properties: { b: { type: 'string' } } }
    } as any;
    expect(() => schemaDefaults(conditional)).toThrow(/^if$/);
    const q = plugin('{}', conditional, 'test:if');
    expect(validator.validateData(q)).toBeNull();
    expect(used).toHaveBeenCalled();
    expect(q.data.composite).toEqual({ a: 1 });
    const remote = { type: 'object', properties: { a: { $ref: 'other.json#/a', default: {} } } } as any;
    expect(() => schemaDefaults(remote)).toThrow(/\$ref other\.json/);
    expect(validator.validateData(plugin('{}', remote, 'test:remote'))?.[0].message).toMatch(/other\.json/);
    used.mockRestore();
  });

  it("fills in the same defaults as Ajv's useDefaults for every schema of the app's packages", () => {
    const root = path.join(__dirname, '..', 'node_modules', '@jupyterlab');
    const files = fs
      .readdirSync(root)
      .flatMap((pkg: string) => {
        const dir = path.join(root, pkg, 'schema');
        return fs.existsSync(dir) ? fs.readdirSync(dir).map((f: string) => path.join(dir, f)) : [];
      })
      .filter((f: string) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(30);
    let modelled = 0;
    for (const file of files) {
      const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
      const ajv = new Ajv({ strict: false, useDefaults: true });
      const composite = {};
      expect([file, ajv.validate(schema, composite), ajv.errors]).toEqual([file, true, null]);
      let ours: unknown;
      try {
        ours = schemaDefaults(schema);
      } catch {
        continue; // goes to Ajv
      }
      modelled++;
      expect([file, ours]).toEqual([file, composite]);
    }
    expect(modelled).toBe(files.length); // none of JupyterLab's own needs Ajv
  });

  it('rejects bad schemas and bad settings with what was wrong', () => {
    const validator = new LazySchemaValidator();
    const notObject = validator.validateData(plugin('{}', { type: 'array' } as any, 'test:array'));
    expect(notObject?.[0].message).toMatch(/root-level type must be 'object', rejecting type: array/);
    const bad = { type: 'object', properties: { a: { type: 'nope' } } } as any;
    const invalid = validator.validateData(plugin('{"a": 1}', bad, 'test:bad'));
    expect(invalid?.[0].keyword).toBe('schema');
    expect(invalid?.[0].message).toMatch(/nope|schema is invalid/);
    const syntax = validator.validateData(plugin('{"fontSize": 16', schema, 'test:syntax'));
    expect(syntax?.[0].keyword).toBe('syntax');
    // A bad schema is not kept: the same id with a good one validates.
    expect(validator.validateData(plugin('{"fontSize": 16}', schema, 'test:bad'))).toBeNull();
  });
});
