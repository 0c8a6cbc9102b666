package kojihub

import (
	"time"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// Renderers produce structs with the members, order and nils of the real
// hub's answers (see testdata/koji-wire).

func tstr(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return wire.FormatTime(t)
}

func tts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return float64(t.UnixMicro()) / 1e6
}

func nz(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func nzs(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (w *world) userName(id int64) any {
	if u := w.users[id]; u != nil {
		return u.Name
	}
	return nil
}

func (w *world) buildFields(b *build) wire.Struct {
	var taskID any
	if b.TaskID != 0 {
		taskID = b.TaskID
	}
	return wire.Struct{
		{Name: "build_id", Value: b.ID},
		{Name: "name", Value: b.Name},
		{Name: "package_id", Value: b.PkgID},
		{Name: "package_name", Value: b.Name},
		{Name: "version", Value: b.Version},
		{Name: "release", Value: b.Release},
		{Name: "epoch", Value: nil},
		{Name: "nvr", Value: b.nvr()},
		{Name: "draft", Value: b.Draft},
		{Name: "state", Value: int(b.State)},
		{Name: "task_id", Value: taskID},
		{Name: "owner_id", Value: b.OwnerID},
		{Name: "owner_name", Value: w.userName(b.OwnerID)},
		{Name: "promoter_id", Value: nz(b.PromoterID)},
		{Name: "promoter_name", Value: w.userName(b.PromoterID)},
		{Name: "volume_id", Value: 0},
		{Name: "volume_name", Value: "DEFAULT"},
		{Name: "creation_event_id", Value: b.CreationEvent},
	}
}

// renderBuild is getBuild / listBuilds / promoteBuild's build struct.
func (w *world) renderBuild(b *build) wire.Struct {
	s := wire.Struct{{Name: "id", Value: b.ID}}
	s = append(s, w.buildFields(b)...)
	extra := map[string]any{}
	for k, v := range b.Extra {
		extra[k] = v
	}
	if b.Source != "" {
		extra["source"] = map[string]any{"original_url": b.Source}
	}
	s = append(s,
		wire.Member{Name: "creation_time", Value: tstr(b.CreationTime)},
		wire.Member{Name: "creation_ts", Value: tts(b.CreationTime)},
		wire.Member{Name: "start_time", Value: tstr(b.StartTime)},
		wire.Member{Name: "start_ts", Value: tts(b.StartTime)},
		wire.Member{Name: "completion_time", Value: tstr(b.CompletionTime)},
		wire.Member{Name: "completion_ts", Value: tts(b.CompletionTime)},
		wire.Member{Name: "promotion_time", Value: tstr(b.PromotionTime)},
		wire.Member{Name: "promotion_ts", Value: tts(b.PromotionTime)},
		wire.Member{Name: "source", Value: nzs(b.Source)},
		wire.Member{Name: "extra", Value: extra},
		wire.Member{Name: "cg_id", Value: nil},
		wire.Member{Name: "cg_name", Value: nil},
	)
	return s
}

// renderTagged is listTagged's element.
func (w *world) renderTagged(b *build, t *tag, tg tagging) wire.Struct {
	s := wire.Struct{{Name: "id", Value: b.ID}}
	s = append(s, w.buildFields(b)...)
	return append(s,
		wire.Member{Name: "creation_time", Value: tstr(b.CreationTime)},
		wire.Member{Name: "start_time", Value: tstr(b.StartTime)},
		wire.Member{Name: "completion_time", Value: tstr(b.CompletionTime)},
		wire.Member{Name: "promotion_time", Value: tstr(b.PromotionTime)},
		wire.Member{Name: "tag_id", Value: t.ID},
		wire.Member{Name: "tag_name", Value: t.Name},
		wire.Member{Name: "create_event", Value: tg.Event},
	)
}

func (w *world) renderTag(t *tag) wire.Struct {
	var perm any
	if t.Perm != "" {
		perm = t.Perm
	}
	extra := make(map[string]any, len(t.Extra))
	for k, v := range t.Extra {
		extra[k] = v
	}
	return wire.Struct{
		{Name: "id", Value: t.ID}, {Name: "name", Value: t.Name}, {Name: "perm_id", Value: nil}, {Name: "perm", Value: perm},
		{Name: "arches", Value: nzs(t.Arches)}, {Name: "locked", Value: t.Locked}, {Name: "maven_support", Value: false},
		{Name: "maven_include_all", Value: false}, {Name: "extra", Value: extra},
	}
}

func (w *world) renderTarget(tg *target) wire.Struct {
	bt, dt := w.tags[tg.BuildTagID], w.tags[tg.DestTagID]
	name := func(t *tag) any {
		if t == nil {
			return nil
		}
		return t.Name
	}
	return wire.Struct{
		{Name: "id", Value: tg.ID}, {Name: "name", Value: tg.Name},
		{Name: "build_tag", Value: tg.BuildTagID}, {Name: "build_tag_name", Value: name(bt)},
		{Name: "dest_tag", Value: tg.DestTagID}, {Name: "dest_tag_name", Value: name(dt)},
	}
}

func (w *world) renderTask(t *task, request bool) wire.Struct {
	var parent, label, host, waiting, awaited any
	if t.Parent != 0 {
		parent = t.Parent
		awaited = t.State != 2 && t.State != 3 && t.State != 5
	}
	if t.Label != "" {
		label = t.Label
	}
	if t.HostID != 0 {
		host = t.HostID
	}
	if len(t.Children) > 0 {
		waiting = t.State == 1
	}
	s := wire.Struct{
		{Name: "id", Value: t.ID}, {Name: "state", Value: int(t.State)},
		{Name: "create_time", Value: tstr(t.CreateTime)}, {Name: "create_ts", Value: tts(t.CreateTime)},
		{Name: "start_time", Value: tstr(t.StartTime)}, {Name: "start_ts", Value: tts(t.StartTime)},
		{Name: "completion_time", Value: tstr(t.CompletionTime)}, {Name: "completion_ts", Value: tts(t.CompletionTime)},
		{Name: "channel_id", Value: t.ChannelID}, {Name: "host_id", Value: host}, {Name: "parent", Value: parent},
		{Name: "label", Value: label}, {Name: "waiting", Value: waiting}, {Name: "awaited", Value: awaited},
		{Name: "owner", Value: t.OwnerID}, {Name: "method", Value: t.Method}, {Name: "arch", Value: t.Arch},
		{Name: "priority", Value: t.Priority}, {Name: "weight", Value: t.Weight},
	}
	if request {
		s = append(s, wire.Member{Name: "request", Value: t.Request})
	}
	return s
}

func (w *world) renderRepo(r *repo) wire.Struct {
	var taskID, taskState any
	if t := w.tasks[r.TaskID]; t != nil {
		taskID, taskState = t.ID, int(t.State)
	}
	return wire.Struct{
		{Name: "id", Value: r.ID}, {Name: "tag_id", Value: r.TagID}, {Name: "tag_name", Value: r.TagName},
		{Name: "state", Value: int(r.State)}, {Name: "create_event", Value: r.CreateEvent},
		{Name: "create_ts", Value: tts(r.CreateTime)}, {Name: "creation_time", Value: tstr(r.CreateTime)},
		{Name: "creation_ts", Value: tts(r.CreateTime)}, {Name: "state_time", Value: tstr(r.StateTime)},
		{Name: "state_ts", Value: tts(r.StateTime)}, {Name: "begin_event", Value: r.CreateEvent},
		{Name: "begin_ts", Value: tts(r.CreateTime)}, {Name: "end_event", Value: nil}, {Name: "end_ts", Value: nil},
		{Name: "dist", Value: false},
		{Name: "opts", Value: wire.Struct{{Name: "src", Value: false}, {Name: "debuginfo", Value: false},
			{Name: "separate_src", Value: false}, {Name: "maven", Value: false}}},
		{Name: "custom_opts", Value: wire.Struct{}}, {Name: "task_id", Value: taskID}, {Name: "task_state", Value: taskState},
	}
}
