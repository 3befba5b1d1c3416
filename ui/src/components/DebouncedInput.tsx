import { type InputHTMLAttributes, useEffect, useState } from 'react';

/** A text input that commits after a pause in typing (or on Enter), not on every key. */
export function DebouncedInput({
  value,
  onCommit,
  delay = 300,
  ...rest
}: {
  value: string;
  onCommit: (v: string) => void;
  delay?: number;
} & Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'>) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const t = setTimeout(() => onCommit(text.trim()), delay);
    return () => clearTimeout(t);
  }, [text, value, delay, onCommit]);
  return (
    <input
      {...rest}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') onCommit(text.trim());
        rest.onKeyDown?.(e);
      }}
    />
  );
}
