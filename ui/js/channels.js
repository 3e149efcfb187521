// Channels and units in the dispatcher's language: `volume` → «Объём»,
// `energy-import-t1` → «Энергия (приём), тариф 1», `m3` → «м³», `degC` →
// «°C». The host keeps the codecs' machine names; only the page shows these.
// A name the table (`names.js`, shared with the host's reports) does not
// know is shown as it is.

import { language } from './i18n.js';
import NAMES from './names.js';

const { channels: CHANNELS, units: UNITS, genders: GENDERS, suffixes } = NAMES;

/** Suffixes: tariffs and phases. */
const SUFFIXES = [
  [/^(.*)-t([1-8])$/, suffixes.tariff],
  [/^(.*)-l([1-3])$/, suffixes.phase],
  [/^(.*)-([abc])$/, suffixes.phase_letter],
];

function pick(entry) {
  return entry[language()] ?? entry.en;
}

/** The gender of `channel`'s Russian name (`m`, `f`, `n`, `p`): its base's; `n` for a name this table does not know. */
export function channelGender(channel) {
  if (!channel) return 'n';
  let base = CHANNELS[channel] ? channel : null;
  for (const [pattern] of SUFFIXES) {
    const m = base ? null : pattern.exec(channel);
    if (m && CHANNELS[m[1]]) base = m[1];
  }
  if (!base) return 'n';
  return GENDERS[base] ?? 'm';
}

/** A channel's display name. */
export function channelName(channel) {
  if (!channel) return '';
  const known = CHANNELS[channel];
  if (known) return pick(known);
  for (const [pattern, template] of SUFFIXES) {
    const m = pattern.exec(channel);
    if (m && CHANNELS[m[1]]) {
      return pick(template).replace('{base}', pick(CHANNELS[m[1]])).replace('{n}', m[2].toUpperCase());
    }
  }
  return channel;
}

/** A unit's display form ("" for a dimensionless value). */
export function unitName(unit) {
  if (!unit) return '';
  const known = UNITS[unit];
  return known ? pick(known) : unit;
}
