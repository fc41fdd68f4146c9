// The Ink view of `netlab steps` on a terminal: the step (its title, its explanation drawn from
// Markdown, its variant and commands, the checks it expects with what each proves), what runs now,
// the output of a child command, and the keys. A pure function of the store's state; the keys it
// reads go to the controller (src/ui/steps-app.ts) as intents.
import { useSyncExternalStore } from 'react';
import { Box, Text, useInput } from 'ink';
import { markdownLines, type MdLine } from './markdown.js';
import { SYM } from './format.js';
import { verdictText } from './steps.js';
import type { StepsStore, StepsUiState } from './steps-store.js';
import type { CheckResult } from '../verify/checks.js';
import type { CheckSpec } from '../model/types.js';
import { Spinner, col } from './spinner.js';

/** A line of the explanation, indented; a wrapped line hangs under its text, not under the bullet. */
function Markdown({ line }: { line: MdLine }) {
  return (
    <Box paddingLeft={2 + line.indent}>
      {line.bullet ? <Text>{line.bullet}</Text> : null}
      <Text>
        {line.segments.map((s, i) => (
          <Text key={i} bold={!!s.bold} italic={!!s.italic} color={s.code ? col('cyan') : undefined}>
            {s.text}
          </Text>
        ))}
      </Text>
    </Box>
  );
}

/** A check the step expects: before it ran, what is expected; after, its verdict. Its why either way. */
function Expectation({ check, result, why = true }: { check: CheckSpec; result?: CheckResult; why?: boolean }) {
  const mark = !result ? <Text dimColor>·</Text> : result.met ? <Text color={col('green')}>{SYM.met}</Text> : <Text color={col('red')}>{SYM.unmet}</Text>;
  const text = result
    ? verdictText(result)
    : check.expect === 'ok'
      ? check.kind === 'exec'
        ? 'expected to match'
        : 'expected to get through'
      : check.kind === 'exec'
        ? 'expected not to match'
        : 'expected to be blocked';
  return (
    <Box flexDirection="column">
      <Text>
        {'  '}
        {mark} {check.label}: <Text color={result && !result.met ? col('red') : undefined}>{text}</Text>
      </Text>
      {check.why && why ? <Text dimColor>{`      ↳ ${check.why}`}</Text> : null}
      {result && !result.met ? <Text dimColor>{`      ran: ${result.command.split('\n')[0]}`}</Text> : null}
      {result && !result.met
        ? result.output
            .split('\n')
            .filter(Boolean)
            .slice(-4)
            .map((l, k) => <Text key={k} dimColor>{`      | ${l}`}</Text>)
        : null}
    </Box>
  );
}

/** maxOutput: the lines of a child's output shown (the last ones), so that the view fits the window: Ink redraws the whole screen when it does not. */
export function StepsView({ state, maxOutput = 30 }: { state: StepsUiState; maxOutput?: number }) {
  const { step } = state;
  const results = new Map(state.checks.map((r) => [r.check, r]));
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>netlab steps {state.lab}</Text>
        <Text dimColor>
          {' '}
          · step {state.index + 1}/{state.total}
          {state.ran ? ' · run' : ''}
        </Text>
      </Text>
      <Box marginTop={1}>
        <Text bold color={col('yellow')}>
          {state.index + 1}. {step.title}
        </Text>
      </Box>
      {markdownLines(step.explain).map((l, i) => (
        <Markdown key={i} line={l} />
      ))}
      {step.variant !== undefined || step.run.length ? (
        <Box flexDirection="column" marginTop={1}>
          {step.variant !== undefined ? (
            <Text>
              {'  '}variant <Text bold>{step.variant}</Text>
              {state.variant ? (
                <Text dimColor>
                  {' '}
                  ({state.variant.changes} change{state.variant.changes === 1 ? '' : 's'} made)
                </Text>
              ) : (
                <Text dimColor> (the lab is reconciled to it)</Text>
              )}
            </Text>
          ) : null}
          {step.run.map((c, i) => {
            const r = state.commands[i];
            return (
              <Box key={i} flexDirection="column">
                <Text>
                  {'  '}
                  {!r ? <Text dimColor>$</Text> : r.met ? <Text color={col('green')}>{SYM.met}</Text> : <Text color={col('red')}>{SYM.unmet}</Text>} <Text dimColor>[{c.node}]</Text>{' '}
                  <Text color={col('cyan')}>{c.text}</Text>
                  {r ? <Text dimColor> exit {r.exitCode}</Text> : null}
                  {c.expectFail ? <Text dimColor> (expected to fail)</Text> : null}
                </Text>
                {r?.output
                  ? r.output
                      .split('\n')
                      .slice(-4)
                      .map((l, k) => <Text key={k} dimColor>{`      | ${l}`}</Text>)
                  : null}
              </Box>
            );
          })}
        </Box>
      ) : null}
      {step.expect.length ? (
        <Box flexDirection="column" marginTop={1}>
          <Text dimColor>{state.checked ? '  checks:' : '  expected after this step:'}</Text>
          {step.expect.map((c, i) => {
            const r = results.get(c);
            // A reach check is one claim over many pings: its why once, under its first cell.
            const first = !c.matrix || step.expect.findIndex((x) => x.matrix?.id === c.matrix!.id) === i;
            return <Expectation key={i} check={c} why={first} {...(r ? { result: r } : {})} />;
          })}
        </Box>
      ) : null}
      {state.output ? (
        <Box flexDirection="column" marginTop={1}>
          <Text bold>{state.output.title}</Text>
          {(state.output.lines.length > maxOutput ? ['...', ...state.output.lines.slice(-maxOutput + 1)] : state.output.lines).map((l, i) => (
            <Text key={i}>{`  ${l}`}</Text>
          ))}
        </Box>
      ) : null}
      <Box marginTop={1}>
        {state.busy ? (
          <Text>
            <Spinner /> {state.busy}
          </Text>
        ) : state.message ? (
          <Text color={col(state.message.tone === 'error' ? 'red' : state.message.tone === 'ok' ? 'green' : 'blue')}>{state.message.text}</Text>
        ) : (
          <Text> </Text>
        )}
      </Box>
      {state.choice ? (
        <Box flexDirection="column">
          <Text bold>{state.choice.title}</Text>
          {state.choice.options.map((o) => (
            <Text key={o.key}>
              {'  '}
              <Text bold>{o.key}</Text> {o.label}
            </Text>
          ))}
          <Text dimColor>{'  '}Esc: never mind</Text>
        </Box>
      ) : (
        <Text dimColor>
          {state.keys.map((k, i) => (
            <Text key={k.key}>
              {i ? ' · ' : ''}
              <Text bold>{k.key}</Text> {k.label}
            </Text>
          ))}
        </Text>
      )}
    </Box>
  );
}

/** Maps a key press to the controller's intent names. */
export function keyName(input: string, key: { return?: boolean; escape?: boolean; leftArrow?: boolean; rightArrow?: boolean; ctrl?: boolean }): string | undefined {
  if (key.ctrl && input === 'c') return 'quit';
  if (key.return) return 'enter';
  if (key.escape) return 'esc';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  return input || undefined;
}

export function StepsApp({ store, onKey }: { store: StepsStore; onKey: (k: string) => void }) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  useInput((input, key) => {
    const k = keyName(input, key);
    if (k) onKey(k);
  });
  if (state.done) return null;
  // What the step itself takes is about 25 lines; the output gets the rest of the window.
  return <StepsView state={state} maxOutput={Math.max(6, (process.stdout.rows || 40) - 25)} />;
}
