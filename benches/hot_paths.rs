//! Hot paths: codec decode throughput, block planning of 10,000 tags, rendering a 500-row grid,
//! evaluating 10,000 alarm rules per update and drawing a list of 10,000 alarms, decimating
//! 1,000,000 history samples to 200 columns and drawing 8 pens of 100,000 samples each, and
//! judging a 125-register Modbus RTU answer (CRC, unit, function, byte count) as it arrives.
//! Run with `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use ttyhmi::alarm::{AlarmEngine, Discrete, LimitKind, Priority, Rule, RuleKind};
use ttyhmi::console::Console as State;
use ttyhmi::driver::modbus::codec;
use ttyhmi::driver::modbus::planner::{Limits, plan};
use ttyhmi::driver::modbus::rtu;
use ttyhmi::layout::{self, ByteOrder, DataType, ModbusPoint, Panel, Pen, Screen, Table, TrendPanel};
use ttyhmi::tag::history::{PointQuality, Series, decimate};
use ttyhmi::tag::{Sample, TagId, Value};

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let regs: Vec<u16> = (0..1200u16).map(|i| i.wrapping_mul(7919)).collect();
    for (name, ty, order) in [
        ("u16", DataType::U16, ByteOrder::Abcd),
        ("f32_abcd", DataType::F32, ByteOrder::Abcd),
        ("f32_badc", DataType::F32, ByteOrder::Badc),
        ("f64_dcba", DataType::F64, ByteOrder::Dcba),
        ("i32_cdab", DataType::I32, ByteOrder::Cdab),
    ] {
        let n = ty.registers() as usize;
        let values = regs.len() / n;
        g.throughput(Throughput::Elements(values as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                for chunk in regs.chunks_exact(n) {
                    black_box(codec::decode_registers(ty, order, black_box(chunk)).ok());
                }
            })
        });
    }
    let p = ModbusPoint {
        unit: 1,
        table: Table::Input,
        address: 0,
        ty: DataType::U16,
        order: ByteOrder::Abcd,
        bit: None,
        scale: Some(layout::Scale { raw: [0.0, 1000.0], eu: [0.0, 100.0] }),
    };
    g.throughput(Throughput::Elements(regs.len() as u64));
    g.bench_function("u16_scaled_point", |b| {
        b.iter(|| {
            for r in regs.chunks_exact(1) {
                black_box(codec::decode_point(&p, black_box(r)).ok());
            }
        })
    });
    g.finish();
}

/// A 125-register answer (255 bytes) judged after every byte (the worst case: a serial port
/// that delivers one byte per read) and once whole.
fn rtu_frames(c: &mut Criterion) {
    let request = tokio_modbus::Request::ReadHoldingRegisters(0, 125);
    let mut answer = vec![1, 3, 250];
    (0..125u16).for_each(|i| answer.extend_from_slice(&i.wrapping_mul(7919).to_be_bytes()));
    rtu::push_crc(&mut answer);
    let mut g = c.benchmark_group("rtu");
    g.throughput(Throughput::Bytes(answer.len() as u64));
    g.bench_function("judge_125_register_answer_whole", |b| {
        b.iter(|| black_box(rtu::scan(1, &request, black_box(&answer), false)))
    });
    g.bench_function("judge_125_register_answer_byte_by_byte", |b| {
        b.iter(|| {
            for n in 1..=answer.len() {
                black_box(rtu::scan(1, &request, black_box(&answer[..n]), false));
            }
        })
    });
    g.finish();
}

fn planning(c: &mut Criterion) {
    let points: Vec<(TagId, ModbusPoint, Duration)> = (0..10_000u32)
        .map(|i| {
            let ty = [DataType::U16, DataType::F32, DataType::I32, DataType::F64][i as usize % 4];
            let p = ModbusPoint {
                unit: 1 + (i % 3) as u8,
                table: if i % 5 == 0 { Table::Input } else { Table::Holding },
                address: (i * 3 % 60_000) as u16,
                ty,
                order: ByteOrder::Abcd,
                bit: None,
                scale: None,
            };
            (TagId(i), p, Duration::from_millis([100, 500, 1000][i as usize % 3]))
        })
        .collect();
    let limits = Limits { max_registers: 125, max_bits: 2000, max_gap: 16 };
    c.bench_function("plan_10000_tags", |b| b.iter(|| black_box(plan(black_box(&points), limits))));
}

fn render(c: &mut Criterion) {
    let mut src = String::from("connections:\n  plc1: { modbus_tcp: { host: 127.0.0.1 } }\ntags:\n");
    for i in 0..500 {
        src.push_str(&format!(
            "  T_{i:03}: {{ source: plc1, holding: {}, type: f32, units: bar, decimals: 2, description: Tag number {i} }}\n",
            i * 2
        ));
    }
    let l = layout::parse(&src, "bench.yaml").unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut state = State::new(Arc::new(l), "bench".into(), false, now);
    for i in 0..500u32 {
        state.plant.store.apply(TagId(i), Sample::good(Value::Float(i as f64 * 1.25), now));
    }
    state.selected = 250;
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("render_500_row_grid_160x48", |b| {
        b.iter(|| {
            term.draw(|f| ttyhmi::ui::render(black_box(&state.session), &state.plant, f)).unwrap();
        })
    });
}

/// 10,000 rules on 10,000 tags: a quarter each hi limits (deadband, delays), lolo limits,
/// discrete, and rate or deviation.
fn alarm_rules() -> Vec<Rule> {
    (0..10_000u32)
        .map(|i| {
            let tag = TagId(i);
            let kind = match i % 4 {
                0 => RuleKind::Limit { kind: LimitKind::Hi, limit: 80.0 },
                1 => RuleKind::Limit { kind: LimitKind::LoLo, limit: 20.0 },
                2 => RuleKind::Discrete(Discrete::AnyOf(vec![3, 4])),
                _ if i % 8 == 3 => RuleKind::Rate { per: Duration::from_secs(1), limit: 50.0 },
                _ => RuleKind::Deviation { from: TagId(0), limit: 30.0 },
            };
            let p = [Priority::Low, Priority::Medium, Priority::High, Priority::Critical][i as usize % 4];
            Rule::new(tag, kind, p, format!("alarm {i}")).key(format!("T{i}.rule")).deadband(1.0)
        })
        .collect()
}

/// One update carrying a new value for each of the 10,000 tags: every rule is evaluated. Two
/// cases: values move but stay normal (the usual case), and every rule changes state (the worst
/// case: 10,000 transitions per update).
fn alarms(c: &mut Criterion) {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut g = c.benchmark_group("alarms_10000_rules");
    g.throughput(Throughput::Elements(10_000));
    let batch = |normal: bool, k: u64| -> Vec<(TagId, Sample)> {
        let at = t0 + Duration::from_secs(k);
        (0..10_000u32)
            .map(|i| {
                let v = match (i % 4, normal) {
                    (2, true) => Value::Int(1),
                    (2, false) => Value::Int(3 + (k % 2) as i64),
                    (_, true) => Value::Float(50.0 + (k % 3) as f64),
                    (_, false) => Value::Float(if k.is_multiple_of(2) { 99.0 } else { 5.0 }),
                };
                (TagId(i), Sample::good(v, at))
            })
            .collect()
    };
    for (name, normal) in [("evaluate_update_no_change", true), ("evaluate_update_all_change", false)] {
        let mut engine = AlarmEngine::new(alarm_rules());
        let batches: Vec<_> = (0..4).map(|k| batch(normal, k)).collect();
        let mut k = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                k += 1;
                let now = t0 + Duration::from_secs(k as u64);
                let mut n = 0;
                for (tag, s) in &batches[k % 4] {
                    n += engine.evaluate(*tag, s, now).len();
                }
                black_box(n)
            })
        });
    }
    let mut engine = AlarmEngine::new(alarm_rules());
    for (tag, s) in batch(false, 0) {
        engine.evaluate(tag, &s, t0);
    }
    let mut k = 0u64;
    g.bench_function("tick", |b| {
        b.iter(|| {
            k += 1;
            black_box(engine.tick(t0 + Duration::from_secs(k)).len())
        })
    });
    g.finish();

    // Drawing the alarm list with 10,000 active alarms (sorted on every frame).
    let mut src = String::from("connections:\n  plc1: { modbus_tcp: { host: 127.0.0.1 } }\ntags:\n");
    for i in 0..10_000 {
        src.push_str(&format!("  T{i}: {{ source: plc1, holding: {} }}\n", i % 60_000));
    }
    src.push_str("screens:\n  - title: Alarms\n    panels:\n      - alarms: {}\n");
    let mut l = layout::parse(&src, "bench.yaml").unwrap();
    l.alarms = alarm_rules();
    let mut state = State::new(Arc::new(l), "bench".into(), false, t0);
    for (tag, s) in batch(false, 0) {
        state.plant.alarms.evaluate(tag, &s, t0);
    }
    state.selected = 5_000;
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("render_alarm_list_10000_active_160x48", |b| {
        b.iter(|| {
            term.draw(|f| ttyhmi::ui::render(black_box(&state.session), &state.plant, f)).unwrap();
        })
    });
}

/// A series of `n` samples one every `step`, a noisy sine.
fn series(n: u64, step: Duration, t0: SystemTime, phase: f64) -> Series {
    let mut s = Series::new(step * (n as u32 + 10), t0);
    for i in 0..n {
        let v = (i as f64 / 5000.0 + phase).sin() * 10.0 + ((i * 7919) % 13) as f64 * 0.1;
        s.push(t0 + step * i as u32, Some(v), PointQuality::Good);
    }
    s
}

fn trends(c: &mut Criterion) {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let n = 1_000_000u64;
    // One sample every 100 ms: a history of 100,000 s keeps all 1,000,000 (10 a second).
    let s = series(n, Duration::from_millis(100), t0, 0.0);
    assert_eq!(s.len(), n as usize, "every sample kept");
    let end = t0 + Duration::from_millis(100 * n);
    let mut g = c.benchmark_group("history");
    g.throughput(Throughput::Elements(n));
    g.bench_function("decimate_1000000_samples_to_200_columns", |b| {
        b.iter(|| black_box(decimate(black_box(&s), t0, end, 200, end)))
    });
    g.finish();

    // 8 pens × 100,000 samples (10 per second over 10,000 s) in one trend filling a 160x48 screen.
    let mut src = String::from("connections:\n  plc1: { modbus_tcp: { host: 127.0.0.1 } }\ntags:\n");
    for i in 0..8 {
        src.push_str(&format!("  P{i}: {{ source: plc1, holding: {} , type: f32 }}\n", i * 2));
    }
    let mut l = layout::parse(&src, "bench.yaml").unwrap();
    let pens = (0..8).map(|i| Pen { tag: TagId(i), range: None }).collect();
    let trend = TrendPanel { title: Some("8 pens".into()), pens, window: Duration::from_secs(10_000) };
    l.screens = vec![Screen { title: "Trend".into(), panels: vec![Panel::Trend(trend)] }];
    l.history = Duration::from_secs(10_000);
    let now = t0 + Duration::from_secs(10_000);
    let mut state = State::new(Arc::new(l), "bench".into(), false, t0);
    state.now = now;
    for i in 0..8u32 {
        for k in 0..100_000u32 {
            let v = ((k as f64) / 3000.0 + i as f64).sin() * 10.0;
            let at = t0 + Duration::from_millis(100 * k as u64);
            state.plant.history.record(TagId(i), &Sample::good(Value::Float(v), at));
        }
    }
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("render_trend_8_pens_x_100000_samples_160x48", |b| {
        b.iter(|| {
            term.draw(|f| ttyhmi::ui::render(black_box(&state.session), &state.plant, f)).unwrap();
        })
    });
    // Memory per stored sample, as allocated (printed once; the bench target is the figure).
    let points: usize = (0..8).filter_map(|i| state.plant.history.series(TagId(i))).map(|s| s.len()).sum();
    assert_eq!(points, 800_000, "every sample kept");
    println!(
        "history: {} points in {} bytes allocated = {:.1} bytes per sample (a point is {} bytes)",
        points,
        state.plant.history.bytes(),
        state.plant.history.bytes() as f64 / points as f64,
        std::mem::size_of::<ttyhmi::tag::history::Point>()
    );
}

criterion_group!(benches, decode, rtu_frames, planning, render, alarms, trends);
criterion_main!(benches);
