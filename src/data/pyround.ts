// Python 3's round(x): halves go to the even neighbour (round(2.5) == 2). torchvision's
// CenterCrop offsets and PIL's PNM scaling use it, and exact pixels depend on it.
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}
