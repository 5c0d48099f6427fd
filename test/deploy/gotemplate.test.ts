import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GoTemplates } from './gotemplate.ts';

const render = (src: string, data: unknown = {}, helpers = '') => {
  const t = new GoTemplates();
  if (helpers) t.add('_helpers.tpl', helpers);
  t.add('t', src);
  return t.render('t', data);
};

describe('the Go-template subset renderer used for the chart', () => {
  test('trims whitespace on the marked side only, newlines included', () => {
    assert.equal(render('a\n  {{- "b" }}\n c'), 'ab\n c');
    assert.equal(render('a {{ "b" -}}\n\n c'), 'a bc');
    assert.equal(render('a\n{{/* comment */}}\nb'), 'a\n\nb');
    assert.equal(render('a\n{{- /* comment */ -}}\nb'), 'ab');
  });

  test('follows text/template truthiness in if, with and range, rebinding the dot', () => {
    const data = { Values: { empty: {}, list: ['x', 'y'], zero: 0, name: 'n', m: { k: 'v' } } };
    assert.equal(render('{{ if .Values.empty }}A{{ else if .Values.zero }}B{{ else }}C{{ end }}', data), 'C');
    assert.equal(render('{{ with .Values.m }}{{ .k }}/{{ $.Values.name }}{{ end }}', data), 'v/n');
    assert.equal(render('{{ range .Values.list }}[{{ . }}]{{ end }}', data), '[x][y]');
    assert.equal(render('{{ range .Values.empty }}x{{ else }}none{{ end }}', data), 'none');
  });

  test('implements the Sprig functions of the subset with Helm semantics', () => {
    const data = { Values: { m: { b: 1, a: ['x'] }, s: 'abc-', n: 3000, t: '' } };
    assert.equal(render('{{ toYaml .Values.m | nindent 2 }}', data), '\n  b: 1\n  a:\n    - x');
    assert.equal(render('{{ .Values.s | trimSuffix "-" | quote }}', data), '"abc"');
    assert.equal(render('{{ default "d" .Values.t }}/{{ default "d" .Values.s }}', data), 'd/abc-');
    assert.equal(render('{{ printf "%s:%s" .Values.s (.Values.n | quote) }}', data), 'abc-:"3000"');
    assert.equal(render('{{ add 5 (div 10000 1000) (div 2500 1000) }}', data), '17');
    assert.equal(render('{{ and .Values.s .Values.t }}|{{ or .Values.t .Values.s }}', data), '|abc-');
    assert.throws(() => render('{{ required "need t" .Values.t }}', data), /required: need t/);
  });

  test('renders included defines with the data passed to include', () => {
    const helpers = '{{- define "x.name" -}}{{ .Values.name | trunc 3 }}{{- end -}}';
    assert.equal(render('n={{ include "x.name" . }}', { Values: { name: 'voidkey' } }, helpers), 'n=voi');
  });

  test('refuses what Helm would get wrong or what the subset lacks', () => {
    assert.throws(() => render('{{ .Values.big }}', { Values: { big: 1000000 } }), /exponent form/);
    assert.throws(() => render('{{ .Values.a.b }}', { Values: {} }), /nil pointer/);
    assert.throws(() => render('{{ $x := 1 }}'), /outside the subset/);
    assert.throws(() => render('{{ lower "A" }}'), /function lower is outside the subset/);
    assert.throws(() => render('{{ if true }}open'), /not closed/);
  });
});
