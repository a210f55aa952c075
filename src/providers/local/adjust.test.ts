import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { adjustImage, cssFilterFor, NotAnImageError } from './adjust.ts';

const grey = (format: 'png' | 'jpeg' = 'png') =>
  sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 110, g: 110, b: 110 } } })
    [format]()
    .toBuffer();

const channelMeans = async (image: Buffer) => (await sharp(image).stats()).channels.map((c) => c.mean);

describe('the local adjustment', () => {
  it('lighting brightens the image and keeps its size and format', async () => {
    const input = await grey();
    const result = await adjustImage(input, 'lighting', 1);
    expect(result).toMatchObject({ mime: 'image/png', width: 32, height: 24 });
    const [before] = await channelMeans(input);
    const [after] = await channelMeans(result.image);
    expect(after!).toBeGreaterThan(before! + 10);
  });

  it('mood warms the image: red ends above blue', async () => {
    const [r, , b] = await channelMeans((await adjustImage(await grey('jpeg'), 'mood', 1)).image);
    expect(r!).toBeGreaterThan(b! + 10);
  });

  it('strength 0 changes nothing visible', async () => {
    const input = await grey();
    const [before] = await channelMeans(input);
    const [after] = await channelMeans((await adjustImage(input, 'style', 0)).image);
    expect(Math.abs(after! - before!)).toBeLessThan(1);
  });

  it('returns the equivalent CSS filter', () => {
    expect(cssFilterFor('lighting')).toBe('brightness(1.2) contrast(1.1) saturate(1.1)');
    expect(cssFilterFor('lighting', 0.5)).toBe('brightness(1.1) contrast(1.05) saturate(1.05)');
    expect(cssFilterFor('mood', 1)).toBe('brightness(0.95) contrast(1.1) saturate(1.15) sepia(0.3)');
  });

  it('refuses bytes that are not an image, whatever they claim to be', async () => {
    await expect(adjustImage(Buffer.from('GIF89a but not really'), 'lighting')).rejects.toBeInstanceOf(NotAnImageError);
    await expect(adjustImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'lighting')).rejects.toBeInstanceOf(NotAnImageError);
  });
});
