// A task's status in the timeline's label column as a shape, not a colour alone (issue
// 11): the canvas twin of components/Status.tsx's icons. Status index as in the model:
// 0 pending (dashed ring), 1 running (ring with an arc), 2 completed (disc with a
// tick), 3 failed (disc with a cross).

export function drawStatusGlyph(
  ctx: CanvasRenderingContext2D,
  cx: number,
  cy: number,
  status: number,
  color: string,
) {
  const r = 5.5;
  ctx.save();
  ctx.fillStyle = color;
  ctx.strokeStyle = color;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  if (status === 2 || status === 3) {
    ctx.arc(cx, cy, r, 0, Math.PI * 2);
    ctx.fill();
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    if (status === 2) {
      ctx.moveTo(cx - 2.6, cy + 0.2);
      ctx.lineTo(cx - 0.8, cy + 2);
      ctx.lineTo(cx + 2.7, cy - 1.8);
    } else {
      ctx.moveTo(cx - 2, cy - 2);
      ctx.lineTo(cx + 2, cy + 2);
      ctx.moveTo(cx + 2, cy - 2);
      ctx.lineTo(cx - 2, cy + 2);
    }
    ctx.stroke();
  } else if (status === 1) {
    ctx.lineWidth = 1.8;
    ctx.globalAlpha = 0.3;
    ctx.arc(cx, cy, r - 1, 0, Math.PI * 2);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.beginPath();
    ctx.arc(cx, cy, r - 1, -Math.PI / 2, 0);
    ctx.stroke();
  } else {
    ctx.lineWidth = 1.4;
    ctx.setLineDash([2.2, 1.8]);
    ctx.arc(cx, cy, r - 1, 0, Math.PI * 2);
    ctx.stroke();
  }
  ctx.restore();
}
