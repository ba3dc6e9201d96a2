// The participant app's own pieces (src/app): MathJax only for math, and no subscription to the
// server's events. The app itself (JupyterLab with its plugins) runs in the Chromium tests.
import { describe, expect, it } from '@jest/globals';

import type { ILatexTypesetter } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';

import { NoServerEvents } from '../src/app/events';
import { mayHaveMath, onlyWithMath } from '../src/app/mathjax';

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
