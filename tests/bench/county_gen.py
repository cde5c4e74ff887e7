#!/usr/bin/env python3
"""A realistic county for the staff console's scale figures (issue 15, SPEC 9): 200 halls
registered as county-admin registers them, and N cases (default 1,000,000) over the five years
up to now, in the tables the county's ingest (hall_upload, sql/county/016) and the console's
actions leave them: cases, records (the ledger: hashes only, sql/county/012), case_events
(accepted, transferred, answered, resolved, rejected, with the county's actors and notes),
case_transfers and the moved cases' handler, ratings (mostly good, some bad with comments)
and the search tokens of migrations 019 and 026 (case_search).

    county_gen.py VAR [--cases N] [--halls 200]

VAR is a demo VAR (conf/demo, or tests/e2e's Node) with its county running: the generator
talks to that mariadbd as root over its socket ($VAR/county/secrets/root.pw) with the `mariadb`
client, and adds halls with county-admin ($VAR/county/county.ini). Everything is made by
INSERT ... SELECT from MariaDB's sequence engine (seq_1_to_N), so it loads in minutes on two
cores; each step prints its time. The triggers of the loaded tables are set aside while it
loads (their work, queueing downlink rows and notices for cases five years old, is what a
county would long since have delivered) and put back, as SHOW CREATE TRIGGER gave them,
whatever happens. The texts are Chinese, drawn from lists of real-looking phrases (places,
topics, details), so that a search finds some cases and not all. Deterministic: the same N
gives the same county.

Python 3 standard library only.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALPHA = "0123456789ABCDEFGHJKLMNPQRTVWXY"

# kind, category, subject, body: what citizens ask and complain about at a township hall
TOPICS = [
    ("consultation", "policy", "城乡居民养老保险缴费档次咨询", "请问今年城乡居民基本养老保险的缴费档次有哪些，在哪里缴费？"),
    ("consultation", "policy", "新农合医保报销比例咨询", "家里老人住院，想了解新农合在县医院的报销比例和需要的材料。"),
    ("consultation", "policy", "高龄津贴申领条件", "我父亲今年八十岁，请问高龄津贴怎么申请，每月发多少？"),
    ("consultation", "service", "居民身份证补办流程", "身份证丢失了，请问补办需要带什么材料，多久能拿到？"),
    ("consultation", "service", "户口迁移需要哪些材料", "孩子在外地上学，户口要迁过去，请问需要准备哪些证明？"),
    ("consultation", "service", "宅基地审批进度查询", "去年提交的宅基地建房申请，现在审批到哪一步了？"),
    ("consultation", "policy", "耕地地力保护补贴发放时间", "今年的耕地地力保护补贴什么时候发放到一卡通？"),
    ("consultation", "service", "残疾人证办理", "家里有人需要办理残疾人证，请问评残在哪里做？"),
    ("consultation", "policy", "低保申请条件和流程", "家庭收入很低，想申请最低生活保障，需要什么条件？"),
    ("consultation", "service", "不动产登记证办理时限", "买的房子办不动产登记证要多长时间，需要本人到场吗？"),
    ("consultation", "policy", "退役军人优待证申领", "请问退役军人优待证在哪里申领，需要哪些材料？"),
    ("consultation", "service", "营业执照变更经营范围", "个体户想增加经营范围，营业执照变更能不能网上办？"),
    ("consultation", "policy", "独生子女父母奖励扶助", "我们是独生子女家庭，年满六十岁的奖励扶助怎么申请？"),
    ("consultation", "service", "社保卡激活和挂失", "新领的社保卡怎么激活？旧卡丢了要先挂失吗？"),
    ("consultation", "policy", "危房改造补助标准", "我家的土坯房年久失修，请问危房改造补助标准是多少？"),
    ("complaint", "conduct", "窗口工作人员态度生硬", "在窗口办事时工作人员态度生硬，问了两遍就不耐烦。"),
    ("complaint", "waiting", "办事排队时间太长", "上午九点到大厅排队，十一点半还没有轮到，窗口只开了一个。"),
    ("complaint", "environment", "村道路灯长期不亮", "村口到学校的路灯坏了三个月，晚上孩子放学很不安全。"),
    ("complaint", "environment", "垃圾清运不及时", "组里的垃圾池已经满了一个星期没人清运，气味很大。"),
    ("complaint", "environment", "养殖场异味扰民", "附近养猪场的异味很重，夏天晚上窗户都不敢开。"),
    ("complaint", "conduct", "补贴发放数额有误", "今年领到的补贴比公示的少，想问清楚是怎么回事。"),
    ("complaint", "environment", "饮用水水质浑浊", "最近自来水发黄浑浊，烧开后有沉淀，担心影响健康。"),
    ("complaint", "waiting", "材料多次退回补正", "同一份申请材料被退回三次，每次只说一个问题。"),
    ("complaint", "environment", "施工噪音影响休息", "工地晚上十点以后还在施工，噪音很大影响休息。"),
    ("unresolved", "service", "承包地确权面积不符", "确权证上的面积比实际少了一亩多，找过村里没有解决。"),
    ("unresolved", "service", "拆迁补偿款未到位", "去年签的拆迁协议，补偿款到现在还有一部分没有到位。"),
    ("unresolved", "policy", "农民工工资拖欠", "在镇上工地干了半年，老板拖欠工资，多次讨要无果。"),
    ("unresolved", "service", "山林界址纠纷", "与邻组的山林界址有争议，村里调解了两次都没有结果。"),
]
PLACES = [
    "石门村", "枫树村", "白沙村", "桃花村", "龙井村", "新塘村", "荷叶村", "松柏村", "金盆村",
    "双江村", "杨柳村", "花桥村", "长冲村", "青山村", "大屋村", "柏树村", "梅花村", "黄土岭村",
    "莲花社区", "团结社区", "东风社区", "建设社区", "和平社区", "幸福社区", "新华社区",
]
DETAILS = [
    "麻烦尽快答复，谢谢。", "之前打过电话，说会有人联系，但一直没有消息。", "家里老人行动不便，能否上门办理？",
    "希望能给一个明确的时间。", "已经在网上提交过一次，没有收到回复。", "附件是相关的照片和材料。",
    "村干部说要到镇里问，镇里又说要到县里问。", "请告知具体经办人和联系电话。",
    "这个问题邻居家也遇到了。", "周末能不能办理？平时要上班。", "谢谢政府的关心。",
    "如果需要补材料请短信通知我。",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["建国", "秀英", "志强", "桂兰", "小红", "伟", "芳", "军", "丽", "明", "静", "勇", "艳",
         "磊", "敏", "强", "洁", "涛", "霞", "平", "德华", "玉梅", "红梅", "海燕", "春生"]
ANSWERS = ["已转相关部门核实，将在规定时限内处理。", "经核实，您反映的情况属实，已安排整改。",
           "您咨询的事项已电话告知办理流程和所需材料。", "已按政策规定办理完毕，请留意短信通知。",
           "经调查，相关补贴已按标准足额发放，差额为代扣医保费用。", "已协调村委会和施工单位，限期整改。"]
ACTORS = ["staff_wang", "staff_li", "staff_zhang", "staff_liu", "supervisor_chen"]
COMMENTS = ["办事效率太低", "问题没有解决", "态度不好", "来回跑了好几次", "答复太笼统"]


def sql_str(s):
    return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Db:
    def __init__(self, var):
        self.var = var
        with open(os.path.join(var, "county", "secrets", "root.pw")) as f:
            pw = f.readline().strip()
        self.cnf = os.path.join(var, "county", "client-gen.cnf")
        fd = os.open(self.cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[client]\nuser=root\npassword=%s\nsocket=%s\n"
                    % (pw, os.path.join(var, "run", "county.sock")))

    def run(self, sql, timeout=3600):
        p = subprocess.run(["mariadb", "--defaults-extra-file=" + self.cnf, "-N", "-B", "-r",
                            "--default-character-set=utf8mb4", "county"],
                           input=("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci;\n" + sql).encode("utf-8"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("mariadb: %s\n%s" % (p.stderr.decode("utf-8", "replace").strip(),
                                                   sql[:400]))
        return p.stdout.decode("utf-8")

    def rows(self, sql):
        return [line.split("\t") for line in self.run(sql).splitlines()]


def step(what, fn):
    t0 = time.time()
    print("  %-52s" % what, end="", flush=True)
    fn()
    print(" %6.1f s" % (time.time() - t0), flush=True)


# ---- pieces of SQL -------------------------------------------------------------------------
def h(expr, salt):
    """A pseudo-random number in [0, 1) from expr, fixed for the same expr and salt."""
    # MD5, not CRC32: CRC32 is affine in its input, so two salts of one number would give
    # correlated draws (no case both rejected and taken by phone, say)
    return "(CONV(LEFT(MD5(CONCAT(%s, '%s')), 8), 16, 10) / 4294967296)" % (expr, salt)


def caseno_sql(hall, seq):
    """The SQL of a valid case number (lib/core/caseno.c) from a hall code and a sequence."""
    syms = ["SUBSTRING('%s', FLOOR((%s) / %d) %% 31 + 1, 1)" % (ALPHA, seq, 31 ** k)
            for k in range(9, -1, -1)]
    body = "CONCAT(%s, %s)" % (hall, ", ".join(syms))
    terms, w = [], 3
    for i in range(21, -1, -1):
        terms.append("(LOCATE(SUBSTRING(b, %d, 1), '%s') - 1) * %d" % (i + 1, ALPHA, w))
        w = w * 3 % 31
    check = "SUBSTRING('%s', (31 - (%s) %% 31) %% 31 + 1, 1)" % (ALPHA, " + ".join(terms))
    return body, check


def fragments_sql(rows, table):
    """A table of text fragments, which the cases' subjects and bodies are made of."""
    values = ",".join("(%d, %s)" % (i, sql_str(t)) for i, t in enumerate(rows))
    return ("CREATE OR REPLACE TABLE %s (i INT PRIMARY KEY, t VARCHAR(400) NOT NULL) "
            "ENGINE = InnoDB;"
            "INSERT INTO %s (i, t) VALUES %s;" % (table, table, values))


# ---- the steps -------------------------------------------------------------------------------
def add_halls(db, county, n):
    have = {r[0] for r in db.rows("SELECT hall_code FROM halls")}
    todo = [("%s%03d000" % (county, 100 + i), "%s镇政务服务中心" % (PLACES[i % len(PLACES)][:2] +
                                                            "东西南北中"[i // len(PLACES) % 5]))
            for i in range(n)]
    todo = [t for t in todo if t[0] not in have]
    ini = os.path.join(db.var, "county", "county.ini")
    pw = os.path.join(db.var, "county", "secrets", "gen-halls.pw")
    if not os.path.exists(pw):
        fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(12).hex() + "\n")
    procs = []
    for code, name in todo:
        procs.append(subprocess.Popen([os.path.join(ROOT, os.environ.get("B", "build"),
                                                    "county-admin"), "-c", ini, "add-hall",
                                       code, name, pw], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE))
        if len(procs) >= 4:
            wait_all(procs)
    wait_all(procs)


def wait_all(procs):
    while procs:
        p = procs.pop(0)
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError("county-admin add-hall: " + err.decode("utf-8", "replace"))


def save_triggers(db, tables, events=("INSERT", "UPDATE", "DELETE")):
    """The triggers of these tables (on these events), in their order of action:
    (name, sql_mode, CREATE)."""
    saved = []
    for name, timing, event, table, mode, definer, stmt in db.rows(
            "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, "
            "SQL_MODE, DEFINER, HEX(ACTION_STATEMENT) FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = 'county' AND EVENT_OBJECT_TABLE IN (%s) "
            "AND EVENT_MANIPULATION IN (%s) "
            "ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"
            % (",".join(sql_str(t) for t in tables), ",".join(sql_str(e) for e in events))):
        user, _, host = definer.rpartition("@")
        saved.append((name, mode, "CREATE DEFINER = %s@%s TRIGGER `%s` %s %s ON `%s` FOR EACH "
                      "ROW %s" % (sql_str(user), sql_str(host), name, timing, event, table,
                                  bytes.fromhex(stmt).decode("utf-8"))))
    return saved


def drop_triggers(db, saved):
    db.run("".join("DROP TRIGGER IF EXISTS `%s`;" % name for name, _, _ in saved))


def restore_triggers(db, saved):
    for name, mode, stmt in saved:
        db.run("SET sql_mode = %s;\nDELIMITER //\n%s//\nDELIMITER ;\n" % (sql_str(mode), stmt))


def load(db, n, halls, county, years=5, from_search=False):
    N = n
    if from_search:
        # a load that stopped at its search tokens
        db.run("TRUNCATE TABLE case_search;")
        search_steps(db, N)
        return
    span = years * 365 * 86400
    hall_no = "LPAD(100 + FLOOR(200 * POW(%s, 1.3)) %% %d, 3, '0')" % (h("s.seq", "hall"), halls)
    body, check = caseno_sql("CONCAT('%s', %s, '000')" % (county, hall_no), "s.seq + 5000000")
    # weights: topics by their position (the first ones more common), kinds as they fall
    ntop, npl, ndet = len(TOPICS), len(PLACES), len(DETAILS)

    def frag_tables():
        db.run(fragments_sql([t[2] for t in TOPICS], "gen_subject") +
               fragments_sql([t[3] for t in TOPICS], "gen_body") +
               fragments_sql(PLACES, "gen_place") +
               fragments_sql(DETAILS, "gen_detail") +
               fragments_sql(["我是", "的，", "。"], "gen_glue") +
               "CREATE OR REPLACE TABLE gen_topic (i INT PRIMARY KEY, kind VARCHAR(16), "
               "category VARCHAR(16)) ENGINE = InnoDB;"
               "INSERT INTO gen_topic VALUES %s;" % ",".join(
                   "(%d, %s, %s)" % (i, sql_str(t[0]), sql_str(t[1]))
                   for i, t in enumerate(TOPICS)))
    step("phrase tables", frag_tables)

    # the skeleton: one row per case with its numbers drawn, so the texts join by index
    def skeleton():
        db.run(
            "CREATE OR REPLACE TABLE gen_case (seq INT PRIMARY KEY, b VARCHAR(32), "
            "topic INT, place INT, detail INT, r1 DOUBLE, r2 DOUBLE, r3 DOUBLE, "
            "sub DATETIME) ENGINE = InnoDB;"
            "INSERT INTO gen_case SELECT s.seq, %s, FLOOR(%d * POW(%s, 1.3)), "
            "FLOOR(%d * %s), FLOOR(%d * %s), %s, %s, %s, "
            "NOW() - INTERVAL %d SECOND + INTERVAL FLOOR(s.seq * %f) SECOND "
            "FROM seq_1_to_%d s;"
            % (body, ntop, h("s.seq", "t"), npl, h("s.seq", "p"), ndet, h("s.seq", "d"),
               h("s.seq", "1"), h("s.seq", "2"), h("s.seq", "3"), span, span / N, N))
        db.run("UPDATE gen_case SET b = CONCAT(b, %s);" % check)
    step("skeleton of %d cases" % N, skeleton)

    # statuses by age: older than 60 days nearly all closed; the last weeks still open
    status = ("CASE WHEN g.sub < NOW() - INTERVAL 60 DAY THEN "
              "CASE WHEN g.r1 < 0.002 THEN 'accepted' WHEN g.r1 < 0.72 THEN 'resolved' "
              "WHEN g.r1 < 0.95 THEN 'answered' ELSE 'rejected' END "
              "ELSE CASE WHEN g.r1 < 0.10 THEN 'delivered' WHEN g.r1 < 0.35 THEN 'accepted' "
              "WHEN g.r1 < 0.40 THEN 'transferred' WHEN g.r1 < 0.70 THEN 'answered' "
              "WHEN g.r1 < 0.95 THEN 'resolved' ELSE 'rejected' END END")
    channel = ("ELT(1 + FLOOR(g.r2 * 10), 'online', 'online', 'online', 'online', 'window', "
               "'window', 'window', 'phone', 'letter', 'email')")

    def cases():
        db.run(
            "INSERT INTO cases (case_no, id, hall_code, kind, category, channel, subject, body, "
            "name, phone, email, item, target, submitted_at, due_at, due_provisional, status, "
            "received_at, handler_county, handler_hall, notify) "
            "SELECT g.b, CONCAT(LEFT(g.b, 12), '-C', g.seq), LEFT(g.b, 12), t.kind, t.category, "
            "%s, CONCAT(p.t, s.t), CONCAT(gl0.t, p.t, gl1.t, bo.t, d.t), "
            "CONCAT(SUBSTRING('%s', 1 + FLOOR(g.r3 * %d), 1), "
            "ELT(1 + FLOOR(g.r2 * 1000) %% %d, %s)), "
            "CONCAT('13', LPAD(FLOOR(g.r3 * 1000000000), 9, '0')), NULL, NULL, NULL, g.sub, "
            "DATE(g.sub) + INTERVAL (CASE t.kind WHEN 'consultation' THEN 7 "
            "WHEN 'complaint' THEN 14 ELSE 21 END) DAY + INTERVAL 86399 SECOND, 0, %s, "
            "g.sub + INTERVAL 3 SECOND, '%s', LEFT(g.b, 12), g.r3 > 0.05 "
            "FROM gen_case g JOIN gen_topic t ON t.i = g.topic "
            "JOIN gen_subject s ON s.i = g.topic JOIN gen_body bo ON bo.i = g.topic "
            "JOIN gen_place p ON p.i = g.place JOIN gen_detail d ON d.i = g.detail "
            "JOIN gen_glue gl0 ON gl0.i = 0 JOIN gen_glue gl1 ON gl1.i = 1"
            % (channel, SURNAMES, len(SURNAMES), len(GIVEN),
               ",".join(sql_str(x) for x in GIVEN), status, county))
    step("cases", cases)

    def ledger():
        db.run("INSERT INTO records (id, hall_code, type, case_no, sha256, payload, received_at) "
               "SELECT id, hall_code, 'case', case_no, SHA2(id, 256), NULL, received_at "
               "FROM cases WHERE id LIKE '%-C%';")
    step("records (the ledger, hashes only)", ledger)

    # the county's events: a path per final status (accepted, transferred, answered,
    # resolved, rejected), hours to days apart
    paths = [("accepted", "accepted", 1), ("transferred", "accepted", 1),
             ("transferred", "transferred", 2), ("answered", "accepted", 1),
             ("answered", "answered", 3), ("resolved", "accepted", 1),
             ("resolved", "answered", 3), ("resolved", "resolved", 5),
             ("rejected", "rejected", 2)]

    def events():
        db.run("CREATE OR REPLACE TABLE gen_path (final VARCHAR(16), status VARCHAR(16), "
               "step INT, PRIMARY KEY (final, step)) ENGINE = InnoDB;"
               "INSERT INTO gen_path VALUES %s;" % ",".join(
                   "(%s, %s, %d)" % (sql_str(a), sql_str(b), c) for a, b, c in paths))
        db.run(
            "INSERT INTO case_events (case_no, status, note, actor, at, origin, transfer_to) "
            "SELECT c.case_no, p.status, CASE p.status WHEN 'accepted' THEN NULL "
            "WHEN 'transferred' THEN CONCAT('转办至：', h.name) "
            "WHEN 'rejected' THEN '不属于受理范围，请向有关部门反映。' "
            "ELSE ELT(1 + CRC32(c.case_no) %% %d, %s) END, "
            "ELT(1 + CRC32(c.id) %% %d, %s), "
            "LEAST(NOW(), c.submitted_at + INTERVAL p.step * (2 + CRC32(c.id) %% 20) HOUR), "
            "'county', IF(p.status = 'transferred', h.hall_code, NULL) "
            "FROM cases c JOIN gen_path p ON p.final = c.status "
            "LEFT JOIN halls h ON p.status = 'transferred' AND h.hall_code = CONCAT('%s', "
            "LPAD(100 + (CRC32(c.case_no) %% %d), 3, '0'), '000') "
            "WHERE c.id LIKE '%%-C%%' ORDER BY c.submitted_at, p.step;"
            % (len(ANSWERS), ",".join(sql_str(a) for a in ANSWERS), len(ACTORS),
               ",".join(sql_str(a) for a in ACTORS), county, halls))
        # a transfer moves the case to that hall, and leaves its row (sql/county/006)
        db.run(
            "INSERT INTO case_transfers (case_no, event_seq, from_county, from_hall, to_county, "
            "to_hall, actor, at) SELECT e.case_no, e.seq, '%s', c.hall_code, '%s', "
            "e.transfer_to, e.actor, e.at FROM case_events e JOIN cases c ON c.case_no = "
            "e.case_no WHERE e.status = 'transferred' AND e.transfer_to IS NOT NULL;"
            "UPDATE cases c JOIN case_transfers t ON t.case_no = c.case_no "
            "SET c.handler_hall = t.to_hall;" % (county, county))
    step("case_events, case_transfers", events)

    def ratings():
        db.run(
            "INSERT INTO ratings (id, case_no, hall_code, level, comment, at, received_at) "
            "SELECT CONCAT(c.hall_code, '-R', SUBSTRING(c.id, 15)), c.case_no, c.hall_code, "
            "@l := CASE WHEN g.r2 < 0.70 THEN 5 WHEN g.r2 < 0.88 THEN 4 WHEN g.r2 < 0.94 THEN 3 "
            "WHEN g.r2 < 0.97 THEN 2 ELSE 1 END, "
            "IF(@l <= 2, ELT(1 + g.seq %% %d, %s), NULL), "
            "LEAST(NOW(), c.submitted_at + INTERVAL 10 DAY), "
            "LEAST(NOW(), c.submitted_at + INTERVAL 10 DAY) "
            "FROM cases c JOIN gen_case g ON g.b = c.case_no "
            "WHERE c.status IN ('answered', 'resolved') AND g.r3 < 0.45;"
            "INSERT INTO records (id, hall_code, type, case_no, sha256, payload, received_at) "
            "SELECT r.id, r.hall_code, 'rating', r.case_no, SHA2(r.id, 256), NULL, r.received_at "
            "FROM ratings r JOIN gen_case g ON g.b = r.case_no;"
            % (len(COMMENTS), ",".join(sql_str(x) for x in COMMENTS)))
    step("ratings", ratings)

    search_steps(db, N)


def search_steps(db, N):
    def search():
        # the tokens as the cases_search trigger makes them (sql/county/026: one expression
        # a text, a fifth of a millisecond a case), the FULLTEXT index built once after
        db.run(
            "ALTER TABLE case_search DROP INDEX IF EXISTS case_search_grams;"
            "INSERT INTO case_search (case_no, grams) "
            "SELECT c.case_no, case_grams(c.case_no, c.subject, c.body) "
            "FROM gen_case g JOIN cases c ON c.case_no = g.b "
            "ON DUPLICATE KEY UPDATE grams = VALUES(grams);")
    step("search tokens", search)
    step("search index (FULLTEXT)", lambda: db.run(
        "ALTER TABLE case_search ADD FULLTEXT INDEX IF NOT EXISTS case_search_grams (grams);"))

    step("clean up, ANALYZE", lambda: db.run(
        "DROP TABLE gen_subject, gen_body, gen_place, gen_detail, gen_glue, gen_topic, "
        "gen_path, gen_case; ANALYZE TABLE cases, case_events, case_search, ratings;"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("var")
    ap.add_argument("--cases", type=int, default=1000000)
    ap.add_argument("--halls", type=int, default=200)
    ap.add_argument("--county", default=None, help="county code (default: the demo hall's)")
    ap.add_argument("--from-search", action="store_true",
                    help="finish a load that stopped at its search tokens")
    ap.add_argument("--tune", action="store_true",
                    help="only raise the running server's buffer pool (a generated county "
                    "started again)")
    a = ap.parse_args()
    db = Db(os.path.abspath(a.var))
    if a.tune:
        db.run("SET GLOBAL innodb_buffer_pool_size = GREATEST(@@innodb_buffer_pool_size, %d);"
               % (1 << 30))
        return 0
    county = a.county or db.rows("SELECT county_code FROM halls ORDER BY hall_code LIMIT 1")[0][0]
    t0 = time.time()
    print("county_gen: %d halls, %d cases, county %s" % (a.halls, a.cases, county), flush=True)
    # a county of this size wants its working set in memory (conf/mariadb/60-hall-county.cnf); the
    # demo's server starts with 64 MB, and the pool grows while it runs
    db.run("SET GLOBAL innodb_buffer_pool_size = GREATEST(@@innodb_buffer_pool_size, %d);"
           % (1 << 30))
    step("halls (county-admin add-hall)", lambda: add_halls(db, county, a.halls))
    tables = ("cases", "case_events", "ratings", "records")
    saved = save_triggers(db, tables)
    try:
        drop_triggers(db, saved)
        load(db, a.cases, a.halls, county, from_search=a.from_search)
    finally:
        restore_triggers(db, saved)
    print("county_gen: done in %.0f s" % (time.time() - t0), flush=True)


if __name__ == "__main__":
    sys.exit(main())
