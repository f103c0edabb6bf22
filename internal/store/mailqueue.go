package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// mailQueueSchema is migration 3: mail that could not be delivered, kept
// for later tries. recipients are newline-separated; message is the whole
// rendered message.
const mailQueueSchema = `
CREATE TABLE mailqueue (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	time       INTEGER NOT NULL,
	sender     TEXT NOT NULL,
	recipients TEXT NOT NULL,
	message    BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT ''
);
`

// MaxQueuedMails bounds the mail queue; putting more drops the oldest.
const MaxQueuedMails = 10000

// QueuedMail is one undelivered message.
type QueuedMail struct {
	ID         int64
	Time       time.Time // when it was queued
	Sender     string
	Recipients []string
	Message    []byte
	Attempts   int
	LastError  string
}

// PutMail keeps an undelivered message, dropping the oldest ones beyond
// MaxQueuedMails.
func (s *Store) PutMail(ctx context.Context, m QueuedMail) error {
	if m.Sender == "" || len(m.Recipients) == 0 || len(m.Message) == 0 {
		return s.wrap("put mail", fmt.Errorf("%w: mail without sender, recipient or text", ErrInvalid))
	}
	return s.wrap("put mail", s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
INSERT INTO mailqueue(time, sender, recipients, message, attempts, last_error) VALUES(?, ?, ?, ?, ?, ?)`,
			m.Time.Unix(), m.Sender, strings.Join(m.Recipients, "\n"), m.Message, m.Attempts, m.LastError); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
DELETE FROM mailqueue WHERE id <= (SELECT id FROM mailqueue ORDER BY id DESC LIMIT 1 OFFSET ?)`, MaxQueuedMails)
		return err
	}))
}

// QueuedMails returns up to limit queued messages, oldest first.
func (s *Store) QueuedMails(ctx context.Context, limit int) ([]QueuedMail, error) {
	rows, err := s.db.QueryContext(ctx, `
SELECT id, time, sender, recipients, message, attempts, last_error FROM mailqueue ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, s.wrap("queued mails", err)
	}
	defer rows.Close()
	var out []QueuedMail
	for rows.Next() {
		var m QueuedMail
		var t int64
		var rcpt string
		if err := rows.Scan(&m.ID, &t, &m.Sender, &rcpt, &m.Message, &m.Attempts, &m.LastError); err != nil {
			return nil, s.wrap("queued mails", err)
		}
		m.Time = time.Unix(t, 0)
		m.Recipients = strings.Split(rcpt, "\n")
		out = append(out, m)
	}
	return out, s.wrap("queued mails", rows.Err())
}

// MailDone removes a delivered message.
func (s *Store) MailDone(ctx context.Context, id int64) error {
	return s.wrap("mail done", s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM mailqueue WHERE id = ?`, id)
		return err
	}))
}

// MailFailed records one more failed try of a queued message.
func (s *Store) MailFailed(ctx context.Context, id int64, lastErr string) error {
	return s.wrap("mail failed", s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE mailqueue SET attempts = attempts + 1, last_error = ? WHERE id = ?`, lastErr, id)
		return err
	}))
}

// CountMails returns how many messages wait in the queue.
func (s *Store) CountMails(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM mailqueue`).Scan(&n)
	return n, s.wrap("count mails", err)
}
