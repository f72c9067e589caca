//! The block planner: which read requests cover a connection's tags with the fewest requests.
//!
//! Tags are grouped by (unit, table, poll period), sorted by address and coalesced greedily into
//! blocks no longer than the request limit (`max_registers`, or `max_bits` for coils and discrete
//! inputs) and with no unused stretch longer than `max_gap`. Greedy coalescing is optimal here: a
//! run of N contiguous registers takes exactly ceil(N / max_registers) requests. A block can never
//! exceed the protocol limits (125 registers, 2000 bits), whatever the configuration says.

use std::time::Duration;

use crate::layout::{ModbusPoint, Table};
use crate::tag::TagId;

/// Protocol limit of registers in one read (FC03/FC04).
pub const MAX_READ_REGISTERS: u16 = 125;
/// Protocol limit of bits in one read (FC01/FC02).
pub const MAX_READ_BITS: u16 = 2000;

/// One tag inside a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub tag: TagId,
    pub point: ModbusPoint,
    /// Offset of the tag's first register (or bit) from the block start.
    pub offset: u16,
}

/// One read request, repeated every `poll`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub unit: u8,
    pub table: Table,
    pub start: u16,
    pub count: u16,
    pub poll: Duration,
    pub items: Vec<Item>,
}

impl Block {
    /// Function code of the read.
    pub fn function_code(&self) -> u8 {
        match self.table {
            Table::Coil => 0x01,
            Table::Discrete => 0x02,
            Table::Holding => 0x03,
            Table::Input => 0x04,
        }
    }

    pub fn tags(&self) -> impl Iterator<Item = TagId> + '_ {
        self.items.iter().map(|i| i.tag)
    }

    /// Splits a block the device refused (exception 02) into two halves at an item boundary, so
    /// the halves can be tried on their own and the bad addresses found. `None` for a block of
    /// one item, or of items that all start at the same address: it cannot be split further.
    pub fn split(&self) -> Option<(Block, Block)> {
        // Items are in address order, so equal offsets are neighbours.
        let mut distinct: Vec<u16> = self.items.iter().map(|i| i.offset).collect();
        distinct.dedup();
        if distinct.len() < 2 {
            return None;
        }
        let cut = distinct[distinct.len() / 2];
        let (a, b): (Vec<Item>, Vec<Item>) = self.items.iter().cloned().partition(|i| i.offset < cut);
        Some((self.with_items(a), self.with_items(b)))
    }

    fn with_items(&self, items: Vec<Item>) -> Block {
        let start = items.iter().map(|i| i.point.address).min().unwrap_or(self.start);
        let end = items.iter().map(|i| i.point.address as u32 + i.point.count() as u32).max().unwrap_or(start as u32);
        let items = items.into_iter().map(|i| Item { offset: i.point.address - start, ..i }).collect();
        Block { unit: self.unit, table: self.table, start, count: (end - start as u32) as u16, poll: self.poll, items }
    }
}

/// Limits of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_registers: u16,
    pub max_bits: u16,
    pub max_gap: u16,
}

impl Limits {
    fn max_for(&self, table: Table) -> u32 {
        if table.is_bits() {
            self.max_bits.clamp(1, MAX_READ_BITS) as u32
        } else {
            self.max_registers.clamp(1, MAX_READ_REGISTERS) as u32
        }
    }
}

/// Plans the reads of `points` (tag, where, poll period).
pub fn plan(points: &[(TagId, ModbusPoint, Duration)], limits: Limits) -> Vec<Block> {
    let mut sorted: Vec<&(TagId, ModbusPoint, Duration)> = points.iter().collect();
    sorted.sort_by_key(|(tag, p, poll)| (p.unit, p.table, *poll, p.address, tag.0));

    let mut blocks: Vec<Block> = Vec::new();
    let mut open: Option<(Block, u32)> = None; // block and its end (exclusive)
    for &&(tag, point, poll) in &sorted {
        let start = point.address as u32;
        let end = start + point.count() as u32;
        let max = limits.max_for(point.table);
        if let Some((b, b_end)) = open.as_mut() {
            let same_group = b.unit == point.unit && b.table == point.table && b.poll == poll;
            let new_end = end.max(*b_end);
            let gap = start.saturating_sub(*b_end);
            if same_group && new_end - b.start as u32 <= max && gap <= limits.max_gap as u32 {
                b.items.push(Item { tag, point, offset: (start - b.start as u32) as u16 });
                *b_end = new_end;
                b.count = (new_end - b.start as u32) as u16;
                continue;
            }
        }
        if let Some((b, _)) = open.take() {
            blocks.push(b);
        }
        let block = Block {
            unit: point.unit,
            table: point.table,
            start: point.address,
            count: point.count(),
            poll,
            items: vec![Item { tag, point, offset: 0 }],
        };
        open = Some((block, end));
    }
    if let Some((b, _)) = open {
        blocks.push(b);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{ByteOrder, DataType};

    const P: Duration = Duration::from_millis(500);

    fn pt(table: Table, address: u16, ty: DataType) -> ModbusPoint {
        ModbusPoint { unit: 1, table, address, ty, order: ByteOrder::Abcd, bit: None, scale: None }
    }

    fn limits(max_registers: u16, max_gap: u16) -> Limits {
        Limits { max_registers, max_bits: 2000, max_gap }
    }

    fn holding(addrs: impl IntoIterator<Item = u16>) -> Vec<(TagId, ModbusPoint, Duration)> {
        addrs.into_iter().enumerate().map(|(i, a)| (TagId(i as u32), pt(Table::Holding, a, DataType::U16), P)).collect()
    }

    #[test]
    fn contiguous_registers_take_the_minimum_requests() {
        for (n, max) in [(1u16, 125u16), (125, 125), (126, 125), (10_000, 125), (1000, 7), (250, 1)] {
            let blocks = plan(&holding(0..n), limits(max, 0));
            assert_eq!(blocks.len(), (n as usize).div_ceil(max as usize), "n={n} max={max}");
            assert!(blocks.iter().all(|b| b.count <= max));
            let covered: u32 = blocks.iter().map(|b| b.count as u32).sum();
            assert_eq!(covered, n as u32);
        }
    }

    #[test]
    fn limits_above_the_protocol_are_clamped() {
        let blocks = plan(&holding(0..1000), limits(u16::MAX, 0));
        assert!(blocks.iter().all(|b| b.count <= MAX_READ_REGISTERS));
        assert_eq!(blocks.len(), 8);
        let bits: Vec<_> = (0..5000).map(|a| (TagId(a as u32), pt(Table::Coil, a, DataType::Bool), P)).collect();
        let blocks = plan(&bits, Limits { max_registers: 125, max_bits: u16::MAX, max_gap: 0 });
        assert_eq!(blocks.len(), 3);
        assert!(blocks.iter().all(|b| b.count <= MAX_READ_BITS));
    }

    #[test]
    fn gaps_are_bridged_up_to_max_gap() {
        let pts = holding([0, 10, 30]);
        // 9 unused registers between 0 and 10, 19 between 10 and 30.
        assert_eq!(plan(&pts, limits(125, 8)).len(), 3);
        assert_eq!(plan(&pts, limits(125, 9)).len(), 2);
        assert_eq!(plan(&pts, limits(125, 18)).len(), 2);
        let b = plan(&pts, limits(125, 19));
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].start, b[0].count), (0, 31));
        assert_eq!(b[0].items.iter().map(|i| i.offset).collect::<Vec<_>>(), vec![0, 10, 30]);
    }

    #[test]
    fn multi_register_values_are_never_cut() {
        let pts: Vec<_> = (0..10).map(|i| (TagId(i), pt(Table::Holding, i as u16 * 4, DataType::F64), P)).collect();
        let blocks = plan(&pts, limits(10, 0));
        assert_eq!(blocks.len(), 5, "two f64 per block of at most 10 registers");
        assert!(blocks.iter().all(|b| b.count == 8));
    }

    #[test]
    fn groups_by_unit_table_and_poll() {
        let mut pts = holding([0, 1]);
        pts.push((TagId(2), pt(Table::Input, 2, DataType::U16), P));
        pts.push((TagId(3), ModbusPoint { unit: 2, ..pt(Table::Holding, 2, DataType::U16) }, P));
        pts.push((TagId(4), pt(Table::Holding, 3, DataType::U16), Duration::from_millis(100)));
        let blocks = plan(&pts, limits(125, 16));
        assert_eq!(blocks.len(), 4);
        for b in &blocks {
            assert!(b.items.iter().all(|i| i.point.unit == b.unit && i.point.table == b.table));
        }
    }

    #[test]
    fn overlapping_tags_share_a_block() {
        // FAULT bits of one register, and a u32 over two u16s.
        let mut pts = holding([20, 20, 21]);
        pts.push((TagId(3), pt(Table::Holding, 20, DataType::U32), P));
        let b = plan(&pts, limits(125, 0));
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].start, b[0].count), (20, 2));
    }

    #[test]
    fn split_halves_at_item_boundaries_until_single() {
        let b = plan(&holding([0, 1, 2, 3, 10]), limits(125, 16)).remove(0);
        let (l, r) = b.split().unwrap();
        assert_eq!((l.start, l.count, l.items.len()), (0, 2, 2));
        assert_eq!((r.start, r.count, r.items.len()), (2, 9, 3));
        assert_eq!(r.items.iter().map(|i| i.offset).collect::<Vec<_>>(), vec![0, 1, 8]);
        let single = plan(&holding([5]), limits(125, 0)).remove(0);
        assert!(single.split().is_none());
        let same = plan(&holding([5, 5]), limits(125, 0)).remove(0);
        assert!(same.split().is_none(), "two tags on one register cannot be told apart");
    }

    #[test]
    fn empty_plan() {
        assert!(plan(&[], limits(125, 16)).is_empty());
    }
}
