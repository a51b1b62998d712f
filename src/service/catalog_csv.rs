//! The catalog's CSV format, with the FAQ import's rules: UTF-8 or GBK, columns by header
//! name, every problem reported with its line, nothing imported unless every row is valid.

use super::knowledge_csv::{read_records, split_list};
use crate::domain::RowError;
use crate::domain::catalog::{CatalogInput, CatalogItem};

pub const COLUMNS: [&str; 9] = [
    "id",
    "title",
    "description",
    "category",
    "tags",
    "price",
    "url",
    "image_url",
    "language",
];

/// Reads and checks every row; all problems at once, each with its line.
pub fn parse(bytes: &[u8]) -> Result<Vec<(u64, CatalogItem)>, Vec<RowError>> {
    let (records, mut errors) = read_records(bytes, &COLUMNS, &["id", "title"])?;
    let mut rows: Vec<(u64, CatalogItem)> = Vec::new();
    let mut seen: std::collections::HashMap<String, u64> = Default::default();
    for record in records {
        let line = record.line;
        let cell = |name: &str| record.cell(name);
        let input = CatalogInput {
            id: cell("id"),
            title: cell("title"),
            description: cell("description"),
            category: cell("category"),
            tags: split_list(&cell("tags")),
            price: cell("price"),
            url: cell("url"),
            image_url: cell("image_url"),
            language: cell("language"),
        };
        match CatalogItem::parse(input) {
            Ok(item) => {
                if let Some(first) = seen.insert(item.id.clone(), line) {
                    errors.push(RowError {
                        line,
                        message: format!("id {:?} is also on line {first}", item.id),
                    });
                    continue;
                }
                rows.push((line, item));
            }
            Err(problems) => errors.extend(problems.into_iter().map(|problem| RowError {
                line,
                message: problem.to_string(),
            })),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_header_and_problems_name_their_line() {
        let rows = parse(
            "title,id,price,tags\nDesk lamp,L1,199,lighting|desk\n台灯灯泡,B2,¥29.5,\n".as_bytes(),
        )
        .expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1.tags, ["lighting", "desk"]);
        assert_eq!((rows[1].0, rows[1].1.price_cents), (3, Some(2_950)));

        let errors =
            parse(b"id,title,price\nL1,Lamp,1\nL1,Lamp again,1\nL2,,cheap\n").expect_err("refused");
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "line 3: id \"L1\" is also on line 2",
                "line 4: title: is empty",
                "line 4: price: \"cheap\" is not a price; write e.g. 129 or 129.90",
            ]
        );
    }

    #[test]
    fn gbk_files_import() {
        let (gbk, _, _) = encoding_rs::GBK.encode("id,title,category\nL1,智能台灯,照明\n");
        let rows = parse(&gbk).expect("valid");
        assert_eq!(rows[0].1.title, "智能台灯");
        assert_eq!(rows[0].1.category, "照明");
    }
}
