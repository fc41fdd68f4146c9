// What the Ink views share: colour unless NO_COLOR is set, and the spinner of a running line.
import { useEffect, useState } from 'react';
import { Text } from 'ink';

const noColor = () => process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
/** A colour for Ink's `color`, or none under NO_COLOR. */
export const col = (c: string) => (noColor() ? undefined : c);

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function Spinner() {
  const [i, setI] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setI((n) => (n + 1) % FRAMES.length), 80);
    return () => clearInterval(t);
  }, []);
  return <Text color={col('cyan')}>{FRAMES[i]}</Text>;
}
