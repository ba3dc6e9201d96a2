/**
 * MathJax only for an element with math in it. JupyterLab typesets every rendered Markdown cell, so
 * its first one downloads and runs MathJax (about 1.7 MB of modules) even when there is no formula
 * in the notebook, as in most interview notebooks. `onlyWithMath` wraps the lab's typesetter (its
 * plugin keeps its id, settings and commands: ./plugins).
 */

import type { ILatexTypesetter } from '@jupyterlab/rendermime';

// What MathJax would typeset: TeX delimiters ($…$, $$…$$, \(…\), \[…\]) or an environment.
const MATH = /\$|\\\(|\\\[|\\begin\{/;

/** Whether `node` has anything MathJax would typeset. */
export function mayHaveMath(node: HTMLElement): boolean {
  return MATH.test(node.textContent ?? '');
}

/** `typesetter`, called only for elements that may have math in them. */
export function onlyWithMath(typesetter: ILatexTypesetter): ILatexTypesetter {
  return { typeset: node => (mayHaveMath(node) ? typesetter.typeset(node) : undefined) };
}
