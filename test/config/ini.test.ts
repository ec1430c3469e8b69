/**
 * parseIni: the layer under parseConfig. Repeated sections and keys are all kept with their
 * line numbers; comments and blank lines vanish; problems come back as issues, never thrown.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseIni } from '../../src/config/index.js';

test('repeated sections and keys are all kept, in order, with line numbers', () => {
  const doc = parseIni('[Interface]\nA = 1\n\n[Peer]\nName = a\nX = 1\nX = 2\n[Peer]\nName = b # c\n[peer]\nName=c;d\n', 'f.conf');
  assert.deepEqual(doc.issues, []);
  assert.deepEqual(
    doc.sections.map((s) => [s.name, s.line, s.entries.map((e) => [e.key, e.value, e.line])]),
    [
      ['Interface', 1, [['A', '1', 2]]],
      ['Peer', 4, [['Name', 'a', 5], ['X', '1', 6], ['X', '2', 7]]],
      ['Peer', 8, [['Name', 'b', 9]]],
      ['peer', 10, [['Name', 'c', 11]]],
    ],
  );
});

test('values keep inner spaces and "=" signs; empty values are kept for the validator', () => {
  const doc = parseIni('[S]\nK =  a b = c  \nE =\n', 'f.conf');
  assert.deepEqual(doc.sections[0]!.entries.map((e) => e.value), ['a b = c', '']);
});

test('syntax problems are issues with file, line and field', () => {
  const doc = parseIni('K = v\n[Ok]\nnot a pair\n[Bad\nX = 1\n[ 1x ]\n', 'f.conf');
  assert.deepEqual(
    doc.issues.map((i) => [i.file, i.line, i.field]),
    [
      ['f.conf', 1, '(file)'],
      ['f.conf', 3, 'Ok'],
      ['f.conf', 4, 'Ok'],
      ['f.conf', 6, '(file)'],
    ],
  );
  assert.deepEqual(doc.sections.map((s) => s.name), ['Ok']);
});
