const TONES: Record<string, string> = {
  running: 'ok',
  online: 'ok',
  success: 'ok',
  stopped: 'off',
  offline: 'bad',
  failure: 'bad',
  error: 'bad',
  cancelled: 'off',
  frozen: 'warn',
  evacuated: 'warn',
  pending: 'warn',
  created: 'busy',
  starting: 'busy',
  stopping: 'busy',
  cancelling: 'busy',
};

/** A state word with a coloured dot; the word itself carries the meaning for screen readers. */
export function Status({ value }: { value: string }) {
  const tone = TONES[value.toLowerCase()] ?? 'off';
  return (
    <span className={`status status-${tone}`}>
      <span className="dot" aria-hidden="true" />
      {value}
    </span>
  );
}
