//! The one integration-test binary: drives kefu over HTTP, in process and as the real binary,
//! with a real SQLite file in a fresh temporary data directory.

mod accounts;
mod assistant;
mod attachments;
mod browser;
mod customers;
mod desk;
mod helpers;
mod knowledge;
mod knowledge_pages;
mod process;
mod rest;
mod security;
mod storage;
mod tickets;
mod tidy;
mod web_shell;
mod widget;
