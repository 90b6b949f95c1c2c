// The query-time input attack: the suspect answers through the attacker's API, which JPEG-encodes,
// adds noise to or median-filters every image before the model sees it -- the owner's trigger
// images and the test images alike. Three sweeps, one section each.
import { deriveSeed } from '../../training/loop.js';
import { score, section, type AttackPoint, type AttackSection } from '../attack-points.js';
import { describeTransform, transformImages, type InputTransform } from '../input-transforms.js';
import { ATTACK_DRAW, type AttackContext } from './context.js';

async function sweep(ctx: AttackContext, transforms: InputTransform[], x: (t: InputTransform) => number): Promise<AttackPoint[]> {
  const { s } = ctx;
  const trigger = s.sets.trigger;
  if (!trigger) throw new Error('the input attack needs the trigger set');
  const points: AttackPoint[] = [];
  for (const t of transforms) {
    const label = describeTransform(t);
    const test = s.model.upload(transformImages(s.sets.test, t));
    const triggered = s.model.upload(transformImages(trigger, t));
    try {
      points.push({ x: x(t), label, ...(await score({ model: s.model, test, trigger: triggered }, ctx.settings, label)) });
    } finally {
      test.drop();
      triggered.drop();
    }
    ctx.checkStop();
  }
  return points;
}

const QUERY_TIME = 'applied at query time to the uint8 test and trigger images before the model normalises them; the model is unchanged.';

export async function inputAttacks(ctx: AttackContext): Promise<AttackSection[]> {
  const { sweeps, seed } = ctx.plan;
  const sections: AttackSection[] = [];
  if (sweeps.jpeg.length > 0) {
    sections.push(
      section({
        id: 'input-jpeg',
        attack: 'input',
        title: 'Input: JPEG compression',
        description: `A JPEG round trip at the given quality (PIL's encoder settings: baseline, 4:2:0, integer DCT), ${QUERY_TIME}`,
        axis: { name: 'JPEG quality', unit: '' },
        budget: { training: 'none' },
        points: await sweep(
          ctx,
          sweeps.jpeg.map((quality) => ({ kind: 'jpeg', quality })),
          (t) => (t.kind === 'jpeg' ? t.quality : 0),
        ),
      }),
    );
  }
  if (sweeps.noise.length > 0) {
    sections.push(
      section({
        id: 'input-noise',
        attack: 'input',
        title: 'Input: Gaussian noise',
        description: `Gaussian noise of the given standard deviation (pixel levels of 0..255) added to every pixel and channel, rounded and clipped, ${QUERY_TIME}`,
        axis: { name: 'noise standard deviation', unit: '/255' },
        budget: { training: 'none' },
        points: await sweep(
          ctx,
          sweeps.noise.map((std, i) => ({ kind: 'noise', std, seed: deriveSeed(seed, ATTACK_DRAW.inputNoise, i) })),
          (t) => (t.kind === 'noise' ? t.std : 0),
        ),
      }),
    );
  }
  if (sweeps.median.length > 0) {
    sections.push(
      section({
        id: 'input-median',
        attack: 'input',
        title: 'Input: median smoothing',
        description: `A median filter over size x size windows per channel, edges replicated (PIL's MedianFilter), ${QUERY_TIME}`,
        axis: { name: 'median window side', unit: 'px' },
        budget: { training: 'none' },
        points: await sweep(
          ctx,
          sweeps.median.map((size) => ({ kind: 'median', size })),
          (t) => (t.kind === 'median' ? t.size : 0),
        ),
      }),
    );
  }
  return sections;
}
