// Channel and unit names in the dispatcher's language, the one table of
// them: the UI reads it through `channels.js`, and the host's reports read
// the same file (everything after `export default` is JSON, so keep it so:
// double quotes, no comments, no trailing commas inside).
//
// `suffixes`: a channel named `<base>-t<1..8>` is a tariff, `<base>-l<1..3>`
// a phase, `<base>-<a|b|c>` a phase by letter. `genders`: the grammatical
// gender of a base's Russian name (`m` when not listed; `p`: plural).
export default {
  "channels": {
    "volume": {"ru": "Объём", "en": "Volume"},
    "energy": {"ru": "Энергия", "en": "Energy"},
    "heat-energy": {"ru": "Тепловая энергия", "en": "Heat energy"},
    "energy-import": {"ru": "Энергия (приём)", "en": "Energy imported"},
    "energy-export": {"ru": "Энергия (отдача)", "en": "Energy exported"},
    "reactive-energy-import": {"ru": "Реактивная энергия (приём)", "en": "Reactive energy imported"},
    "reactive-energy-export": {"ru": "Реактивная энергия (отдача)", "en": "Reactive energy exported"},
    "power": {"ru": "Мощность", "en": "Power"},
    "power-import": {"ru": "Мощность (приём)", "en": "Power imported"},
    "voltage": {"ru": "Напряжение", "en": "Voltage"},
    "current": {"ru": "Ток", "en": "Current"},
    "frequency": {"ru": "Частота", "en": "Frequency"},
    "flow": {"ru": "Расход", "en": "Flow"},
    "temperature": {"ru": "Температура", "en": "Temperature"},
    "flow-temperature": {"ru": "Температура подачи", "en": "Flow temperature"},
    "return-temperature": {"ru": "Температура обратки", "en": "Return temperature"},
    "operating-hours": {"ru": "Время наработки", "en": "Operating hours"},
    "error-flags": {"ru": "Коды ошибок", "en": "Error flags"},
    "pulses": {"ru": "Импульсы", "en": "Pulses"},
    "rotations": {"ru": "Обороты", "en": "Rotations"},
    "magnet": {"ru": "Воздействие магнитом", "en": "Magnet"},
    "case-open": {"ru": "Вскрытие корпуса", "en": "Case open"},
    "leak": {"ru": "Протечка", "en": "Leak"},
    "breakthrough": {"ru": "Прорыв", "en": "Breakthrough"},
    "valve": {"ru": "Кран", "en": "Valve"},
    "guard": {"ru": "Охрана", "en": "Guard"},
    "open": {"ru": "Открыто", "en": "Open"}
  },
  "suffixes": {
    "tariff": {"ru": "{base}, тариф {n}", "en": "{base}, tariff {n}"},
    "phase": {"ru": "{base}, фаза L{n}", "en": "{base}, phase L{n}"},
    "phase_letter": {"ru": "{base}, фаза {n}", "en": "{base}, phase {n}"}
  },
  "units": {
    "m3": {"ru": "м³", "en": "m³"},
    "m3/h": {"ru": "м³/ч", "en": "m³/h"},
    "l": {"ru": "л", "en": "l"},
    "degC": {"ru": "°C", "en": "°C"},
    "°C": {"ru": "°C", "en": "°C"},
    "K": {"ru": "К", "en": "K"},
    "Wh": {"ru": "Вт·ч", "en": "Wh"},
    "kWh": {"ru": "кВт·ч", "en": "kWh"},
    "MWh": {"ru": "МВт·ч", "en": "MWh"},
    "varh": {"ru": "вар·ч", "en": "varh"},
    "kvarh": {"ru": "квар·ч", "en": "kvarh"},
    "W": {"ru": "Вт", "en": "W"},
    "kW": {"ru": "кВт", "en": "kW"},
    "V": {"ru": "В", "en": "V"},
    "A": {"ru": "А", "en": "A"},
    "Hz": {"ru": "Гц", "en": "Hz"},
    "GJ": {"ru": "ГДж", "en": "GJ"},
    "Gcal": {"ru": "Гкал", "en": "Gcal"},
    "h": {"ru": "ч", "en": "h"},
    "s": {"ru": "с", "en": "s"},
    "count": {"ru": "имп.", "en": "pulses"},
    "%": {"ru": "%", "en": "%"},
    "dBm": {"ru": "дБм", "en": "dBm"},
    "dB": {"ru": "дБ", "en": "dB"}
  },
  "genders": {
    "energy": "f",
    "heat-energy": "f",
    "energy-import": "f",
    "energy-export": "f",
    "reactive-energy-import": "f",
    "reactive-energy-export": "f",
    "power": "f",
    "power-import": "f",
    "frequency": "f",
    "temperature": "f",
    "flow-temperature": "f",
    "return-temperature": "f",
    "operating-hours": "n",
    "error-flags": "p",
    "pulses": "p",
    "rotations": "p",
    "leak": "f",
    "guard": "f",
    "open": "n"
  }
};
