-- one database per service: nobody reads another service's tables
CREATE DATABASE registry OWNER jinguo;
CREATE DATABASE projects OWNER jinguo;
CREATE DATABASE funding OWNER jinguo;
CREATE DATABASE volunteers OWNER jinguo;
CREATE DATABASE gateway OWNER jinguo;
