// Channels and units in the dispatcher's language: `volume` → «Объём»,
// `energy-import-t1` → «Энергия (приём), тариф 1», `m3` → «м³», `degC` →
// «°C». The host keeps the codecs' machine names; only the page shows these.
// A name this table does not know is shown as it is.

import { language } from './i18n.js';

/** Base channel names (a suffix such as `-t1` or `-l2` is named below). */
const CHANNELS = {
  volume: { ru: 'Объём', en: 'Volume' },
  energy: { ru: 'Энергия', en: 'Energy' },
  'heat-energy': { ru: 'Тепловая энергия', en: 'Heat energy' },
  'energy-import': { ru: 'Энергия (приём)', en: 'Energy imported' },
  'energy-export': { ru: 'Энергия (отдача)', en: 'Energy exported' },
  'reactive-energy-import': { ru: 'Реактивная энергия (приём)', en: 'Reactive energy imported' },
  'reactive-energy-export': { ru: 'Реактивная энергия (отдача)', en: 'Reactive energy exported' },
  power: { ru: 'Мощность', en: 'Power' },
  'power-import': { ru: 'Мощность (приём)', en: 'Power imported' },
  voltage: { ru: 'Напряжение', en: 'Voltage' },
  current: { ru: 'Ток', en: 'Current' },
  frequency: { ru: 'Частота', en: 'Frequency' },
  flow: { ru: 'Расход', en: 'Flow' },
  temperature: { ru: 'Температура', en: 'Temperature' },
  'flow-temperature': { ru: 'Температура подачи', en: 'Flow temperature' },
  'return-temperature': { ru: 'Температура обратки', en: 'Return temperature' },
  'operating-hours': { ru: 'Время наработки', en: 'Operating hours' },
  'error-flags': { ru: 'Коды ошибок', en: 'Error flags' },
  pulses: { ru: 'Импульсы', en: 'Pulses' },
  rotations: { ru: 'Обороты', en: 'Rotations' },
  magnet: { ru: 'Воздействие магнитом', en: 'Magnet' },
  'case-open': { ru: 'Вскрытие корпуса', en: 'Case open' },
  leak: { ru: 'Протечка', en: 'Leak' },
  breakthrough: { ru: 'Прорыв', en: 'Breakthrough' },
  valve: { ru: 'Кран', en: 'Valve' },
  guard: { ru: 'Охрана', en: 'Guard' },
  open: { ru: 'Открыто', en: 'Open' },
};

/** Suffixes: tariffs and phases. */
const SUFFIXES = [
  [/^(.*)-t([1-8])$/, { ru: '{base}, тариф {n}', en: '{base}, tariff {n}' }],
  [/^(.*)-l([1-3])$/, { ru: '{base}, фаза L{n}', en: '{base}, phase L{n}' }],
  [/^(.*)-([abc])$/, { ru: '{base}, фаза {n}', en: '{base}, phase {n}' }],
];

/** Units as the codecs write them. */
const UNITS = {
  m3: { ru: 'м³', en: 'm³' },
  'm3/h': { ru: 'м³/ч', en: 'm³/h' },
  l: { ru: 'л', en: 'l' },
  degC: { ru: '°C', en: '°C' },
  '°C': { ru: '°C', en: '°C' },
  K: { ru: 'К', en: 'K' },
  Wh: { ru: 'Вт·ч', en: 'Wh' },
  kWh: { ru: 'кВт·ч', en: 'kWh' },
  MWh: { ru: 'МВт·ч', en: 'MWh' },
  varh: { ru: 'вар·ч', en: 'varh' },
  kvarh: { ru: 'квар·ч', en: 'kvarh' },
  W: { ru: 'Вт', en: 'W' },
  kW: { ru: 'кВт', en: 'kW' },
  V: { ru: 'В', en: 'V' },
  A: { ru: 'А', en: 'A' },
  Hz: { ru: 'Гц', en: 'Hz' },
  GJ: { ru: 'ГДж', en: 'GJ' },
  Gcal: { ru: 'Гкал', en: 'Gcal' },
  h: { ru: 'ч', en: 'h' },
  s: { ru: 'с', en: 's' },
  count: { ru: 'имп.', en: 'pulses' },
  '%': { ru: '%', en: '%' },
  dBm: { ru: 'дБм', en: 'dBm' },
  dB: { ru: 'дБ', en: 'dB' },
};

/**
 * The grammatical gender of a base channel's Russian name (`m`, `f`, `n`;
 * `p` for a plural), for a verb that agrees with it («Объём уменьшился»,
 * «Энергия уменьшилась»). Not listed: `m`.
 */
const GENDERS = {
  energy: 'f',
  'heat-energy': 'f',
  'energy-import': 'f',
  'energy-export': 'f',
  'reactive-energy-import': 'f',
  'reactive-energy-export': 'f',
  power: 'f',
  'power-import': 'f',
  frequency: 'f',
  temperature: 'f',
  'flow-temperature': 'f',
  'return-temperature': 'f',
  'operating-hours': 'n',
  'error-flags': 'p',
  pulses: 'p',
  rotations: 'p',
  leak: 'f',
  guard: 'f',
  open: 'n',
};

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
