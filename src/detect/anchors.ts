/**
 * BlazeFace anchor centres (SSD-style, all anchors of a cell share its centre; sizes are regressed, not anchored).
 * Same order as the model's outputs and as @vladmandic/human's generateAnchors: stride by stride, row by row,
 * column by column, then the anchors of one cell.
 */
export interface AnchorConfig {
  inputSize: number;
  /** A non-square input (a larger view of the whole photo): its width and height; default inputSize. */
  inputWidth?: number;
  inputHeight?: number;
  strides: number[];
  anchorsPerCell: number[];
  /** Cell-centre offset in cells (0.5 = centre). */
  offset: number;
}

/** Anchor centres in input pixels, interleaved [x0, y0, x1, y1, ...]. */
export function generateAnchors(config: AnchorConfig): Float32Array {
  const centres: number[] = [];
  config.strides.forEach((stride, level) => {
    const rows = Math.ceil((config.inputHeight ?? config.inputSize) / stride);
    const cols = Math.ceil((config.inputWidth ?? config.inputSize) / stride);
    for (let row = 0; row < rows; row++) {
      const y = stride * (row + config.offset);
      for (let col = 0; col < cols; col++) {
        const x = stride * (col + config.offset);
        for (let n = 0; n < config.anchorsPerCell[level]; n++) centres.push(x, y);
      }
    }
  });
  return Float32Array.from(centres);
}
