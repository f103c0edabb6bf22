// Package store keeps bans, ban history and log positions in SQLite.
package store
