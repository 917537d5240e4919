/** A labelled meter: usage of a resource, or progress of an operation. */
export function Bar({
  label,
  value,
  max = 1,
  detail,
  tone,
}: {
  label: string;
  value: number | undefined;
  max?: number;
  detail?: string;
  tone?: 'auto' | 'progress';
}) {
  const known = value !== undefined && Number.isFinite(value) && max > 0;
  const fraction = known ? Math.min(1, Math.max(0, value / max)) : 0;
  const percent = Math.round(fraction * 100);
  const level = tone === 'progress' ? 'progress' : fraction >= 0.9 ? 'high' : fraction >= 0.7 ? 'mid' : 'low';
  return (
    <div className="bar">
      <div className="bar-label">
        <span>{label}</span>
        <span className="bar-detail">{known ? (detail ?? `${percent}%`) : (detail ?? '—')}</span>
      </div>
      <div
        className={`bar-track ${known ? '' : 'unknown'}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={known ? percent : undefined}
      >
        <div className={`bar-fill ${level}`} style={{ width: `${percent}%` }} />
      </div>
    </div>
  );
}
