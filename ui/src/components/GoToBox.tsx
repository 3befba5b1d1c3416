import { forwardRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { parsePathspec, pathspecUrl } from './paths';

/** Accepts a pasted pathspec (Flow/Run/Step/Task, or a prefix of it) and goes there. */
export const GoToBox = forwardRef<HTMLInputElement>(function GoToBox(_props, ref) {
  const navigate = useNavigate();
  const [text, setText] = useState('');
  const [invalid, setInvalid] = useState(false);
  return (
    <form
      className="goto"
      role="search"
      aria-label="Go to a pathspec"
      onSubmit={(e) => {
        e.preventDefault();
        const p = parsePathspec(text);
        if (!p) {
          setInvalid(true);
          return;
        }
        setInvalid(false);
        setText('');
        (e.currentTarget.querySelector('input') as HTMLInputElement | null)?.blur();
        navigate(pathspecUrl(p));
      }}
    >
      <input
        ref={ref}
        className={invalid ? 'goto-input invalid' : 'goto-input'}
        type="text"
        value={text}
        placeholder="Go to Flow/Run/Step/Task   (g)"
        aria-label="Go to pathspec"
        aria-invalid={invalid}
        spellCheck={false}
        onChange={(e) => {
          setText(e.target.value);
          setInvalid(false);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            setText('');
            e.currentTarget.blur();
          }
        }}
      />
      {invalid ? <span className="goto-error">Not a pathspec. Try MyFlow/12/start/1</span> : null}
    </form>
  );
});
